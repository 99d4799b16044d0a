import os

from flask import Flask, jsonify
from redis import Redis

list_products = [
    {"itemId": 1, "itemName": "Suitcase 250", "price": 50, "initialAvailableQuantity": 4},
    {"itemId": 2, "itemName": "Suitcase 450", "price": 100, "initialAvailableQuantity": 10},
    {"itemId": 3, "itemName": "Suitcase 650", "price": 350, "initialAvailableQuantity": 2},
    {"itemId": 4, "itemName": "Suitcase 1050", "price": 550, "initialAvailableQuantity": 5},
]

app = Flask(__name__)
client = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"), decode_responses=True)


def get_item_by_id(item_id):
    for item in list_products:
        if item["itemId"] == item_id:
            return item
    return None


def reserve_stock_by_id(item_id, stock):
    client.set(f"item.{item_id}", stock)


def get_current_reserved_stock_by_id(item_id):
    stock = client.get(f"item.{item_id}")
    return None if stock is None else int(stock)


def current_quantity(item):
    stock = get_current_reserved_stock_by_id(item["itemId"])
    return item["initialAvailableQuantity"] if stock is None else stock


@app.route("/list_products")
def products():
    return jsonify(list_products)


@app.route("/list_products/<int:item_id>")
def product(item_id):
    item = get_item_by_id(item_id)
    if item is None:
        return jsonify({"status": "Product not found"})
    return jsonify({**item, "currentQuantity": current_quantity(item)})


@app.route("/reserve_product/<int:item_id>")
def reserve_product(item_id):
    item = get_item_by_id(item_id)
    if item is None:
        return jsonify({"status": "Product not found"})
    stock = current_quantity(item)
    if stock < 1:
        return jsonify({"status": "Not enough stock available", "itemId": item_id})
    reserve_stock_by_id(item_id, stock - 1)
    return jsonify({"status": "Reservation confirmed", "itemId": item_id})


if __name__ == "__main__":
    app.run(port=1245)
