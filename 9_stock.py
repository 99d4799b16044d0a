#!/usr/bin/env python3
"""Task 12: list the suitcases and reserve them, never more than the stock.

The original read the stock, then wrote it back minus one: two requests at once both saw
the same stock and both were confirmed. Here the check and the take are one step in
Redis (take_one, a Lua script), so under any number of requests, processes or app
instances exactly `initialAvailableQuantity` reservations of an item are confirmed.
"""

import sys
from functools import cache

from flask import Flask

import queuing_system as qs

list_products = [
    {"itemId": 1, "itemName": "Suitcase 250", "price": 50, "initialAvailableQuantity": 4},
    {"itemId": 2, "itemName": "Suitcase 450", "price": 100, "initialAvailableQuantity": 10},
    {"itemId": 3, "itemName": "Suitcase 650", "price": 350, "initialAvailableQuantity": 2},
    {"itemId": 4, "itemName": "Suitcase 1050", "price": 550, "initialAvailableQuantity": 5},
]
PRODUCTS_BY_ID = {str(product["itemId"]): product for product in list_products}
STOCK_KEY = "item.{item_id}"  # the item's current stock; absent until its first reservation
NOT_FOUND = {"status": "Product not found"}
SERVER_PROCESSES = 2  # forked after start-up, sharing one listening socket


def get_item_by_id(item_id):
    """The product with this id (an int, or the text of the URL), or None."""
    return PRODUCTS_BY_ID.get(str(item_id))


@cache  # made on first use: what a function called as the spec writes it uses
def redis_client():
    return qs.make_client()  # $REDIS_URL's, with the spec's retries and errors


def reserve_stock_by_id(item_id, stock, db=None):
    (db or redis_client()).set(STOCK_KEY.format(item_id=item_id), stock)


def get_current_reserved_stock_by_id(item_id, db=None):
    stock = (db or redis_client()).get(STOCK_KEY.format(item_id=item_id))
    return None if stock is None else int(stock)


def create_app(db=None):
    """The app, on the Redis client `db` (default: REDIS_URL's), kept as
    app.extensions["redis"]; it writes nothing to Redis until a request asks it to."""
    app = qs.use_json(Flask(__name__))  # JSON only: compact, in the spec's key order
    app.extensions["redis"] = redis_client() if db is None else db

    @app.get("/list_products")
    def products():
        return list_products

    @app.get("/list_products/<item_id>")
    def product(item_id):
        item = get_item_by_id(item_id)
        if item is None:
            return NOT_FOUND
        current = get_current_reserved_stock_by_id(item["itemId"], app.extensions["redis"])
        if current is None:
            current = item["initialAvailableQuantity"]
        return {**item, "currentQuantity": current}

    @app.get("/reserve_product/<item_id>")
    def reserve_product(item_id):
        item = get_item_by_id(item_id)
        if item is None:
            return NOT_FOUND
        stock_key = STOCK_KEY.format(item_id=item["itemId"])
        # check and take in one Lua step, where the original read, then wrote: never oversold
        if qs.take_one(app.extensions["redis"], stock_key, item["initialAvailableQuantity"]) < 0:
            return {"status": "Not enough stock available", "itemId": item["itemId"]}
        return {"status": "Reservation confirmed", "itemId": item["itemId"]}

    return app


def main(argv=None):
    # Flask's app.run(), on our HTTP server (flow control, deadlines): reads --host and --port
    # (over $HOST, $PORT), makes the app, waits for Redis before it listens, then serves in
    # SERVER_PROCESSES processes; exits 0 on SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us
    return qs.serve(create_app, argv, description=__doc__, processes=SERVER_PROCESSES)


if __name__ == "__main__":
    sys.exit(main())
