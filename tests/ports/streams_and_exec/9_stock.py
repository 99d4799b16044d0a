"""Task 12 with Flask's own server (app.run), the stock taken atomically (WATCH/MULTI)."""

import os

import redis
from flask import Flask, jsonify

products = [
    {"itemId": 1, "itemName": "Suitcase 250", "price": 50, "initialAvailableQuantity": 4},
    {"itemId": 2, "itemName": "Suitcase 450", "price": 100, "initialAvailableQuantity": 10},
    {"itemId": 3, "itemName": "Suitcase 650", "price": 350, "initialAvailableQuantity": 2},
    {"itemId": 4, "itemName": "Suitcase 1050", "price": 550, "initialAvailableQuantity": 5},
]
client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"), decode_responses=True)
app = Flask(__name__)
app.json.sort_keys = False


def get_item_by_id(item_id):
    return next((item for item in products if item["itemId"] == item_id), None)


def reserve_stock_by_id(item_id, stock):
    client.set(f"item.{item_id}", stock)


def get_current_reserved_stock_by_id(item_id):
    return client.get(f"item.{item_id}")


def current(item):
    stock = get_current_reserved_stock_by_id(item["itemId"])
    return item["initialAvailableQuantity"] if stock is None else int(stock)


@app.get("/list_products")
def list_products():
    return jsonify(products)


@app.get("/list_products/<int:item_id>")
def product(item_id):
    item = get_item_by_id(item_id)
    if item is None:
        return jsonify(status="Product not found")
    return jsonify({**item, "currentQuantity": current(item)})


@app.get("/reserve_product/<int:item_id>")
def reserve(item_id):
    item = get_item_by_id(item_id)
    if item is None:
        return jsonify(status="Product not found")
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(f"item.{item_id}")
                stock = current(item)
                if stock < 1:
                    return jsonify(status="Not enough stock available", itemId=item_id)
                pipe.multi()
                pipe.set(f"item.{item_id}", stock - 1)
                pipe.execute()
                return jsonify(status="Reservation confirmed", itemId=item_id)
            except redis.WatchError:
                continue


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", 1245)))
