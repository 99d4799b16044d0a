#!/usr/bin/env python3
"""Task 12: list the suitcases and reserve them, never more than the stock.

The original read the stock, then wrote it back minus one: two requests at once both saw
the same stock and both were confirmed. Here the check and the decrement are one Lua
script, so under any number of requests, threads or app instances exactly
`initialAvailableQuantity` reservations of an item are confirmed.
"""

from secrets import token_hex

from queuing_system.connection import make_client, until_answered, wait_until_connected
from queuing_system.redis_speedups import LuaScript
from queuing_system.shutdown import run
from queuing_system.web import create_json_app, serve

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

# KEYS: the stock key, the request's receipt; ARGV: the initial quantity, the receipt's TTL.
# Returns the stock left, or -1.
RESERVE_ONE = LuaScript("""
local answer = redis.call('GET', KEYS[2])
if answer then return tonumber(answer) end
local stock = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
answer = -1
if stock > 0 then
  answer = stock - 1
  redis.call('SET', KEYS[1], answer)
end
redis.call('SET', KEYS[2], answer, 'EX', ARGV[2])
return answer
""")
# A reservation's answer is kept this long under its receipt: a try repeated after a
# dropped connection gets it instead of taking a second unit.
RECEIPT_KEY = "receipt:{token}"
RECEIPT_TTL = 60  # seconds

client = make_client()  # REDIS_URL's, connecting on first use: the default of everything below


def get_item_by_id(item_id):
    """The product with this id (an int, or the text of the URL), or None."""
    return PRODUCTS_BY_ID.get(str(item_id))


def reserve_stock_by_id(item_id, stock, db=client):
    db.set(STOCK_KEY.format(item_id=item_id), stock)


def get_current_reserved_stock_by_id(item_id, db=client):
    stock = db.get(STOCK_KEY.format(item_id=item_id))
    return None if stock is None else int(stock)


def reserve_one(item, db=client):
    """Take one unit of the item's stock, atomically and once; False when none is left."""
    keys = [STOCK_KEY.format(item_id=item["itemId"]), RECEIPT_KEY.format(token=token_hex(8))]
    args = [item["initialAvailableQuantity"], RECEIPT_TTL]
    return until_answered(lambda: RESERVE_ONE(db, keys, args)) >= 0


def create_app(db=client):
    """The app, on the Redis client `db` (kept as app.extensions["redis"]); it writes
    nothing to Redis until a request asks it to."""
    app = create_json_app(__name__)
    app.extensions["redis"] = db

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
        if not reserve_one(item, app.extensions["redis"]):
            return {"status": "Not enough stock available", "itemId": item["itemId"]}
        return {"status": "Reservation confirmed", "itemId": item["itemId"]}

    return app


def main():
    wait_until_connected(client, quiet=True)
    return serve(create_app(), processes=SERVER_PROCESSES)


if __name__ == "__main__":
    run(main)
