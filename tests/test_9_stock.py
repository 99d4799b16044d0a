"""Task 12: the stock app, on Flask's test client (fakeredis) and as a real process."""

import importlib
import signal

import fakeredis
import pytest
import redis

from queuing_system.connection import make_client
from queuing_system.grader.expected import (
    PRODUCT_NOT_FOUND,
    PRODUCTS,
    not_enough_stock,
    product_1,
    reservation_confirmed,
)
from queuing_system.grader.harness import get_many, http_get, listening
from queuing_system.grader.redis_server import free_port

stock = importlib.import_module("9_stock")

BAD_IDS = ["12", "0", "5", "abc", "-1", "1.5", "1e0", "01", " 1", "99999999999999999999999", "١", "%00"]


@pytest.fixture
def fake():
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture
def http(fake):
    return stock.create_app(fake).test_client()


def check_json(response, status, body):
    assert (response.status_code, response.get_data(as_text=True)) == (status, body)
    assert response.content_type == "application/json"


def test_list_products(http):
    check_json(http.get("/list_products"), 200, PRODUCTS)


def test_product_detail_before_any_reservation(http):
    check_json(http.get("/list_products/1"), 200, product_1(4))


@pytest.mark.parametrize("item_id", BAD_IDS)
@pytest.mark.parametrize("route", ["/list_products/", "/reserve_product/"])
def test_any_id_that_is_not_a_product_is_not_found(http, route, item_id):
    check_json(http.get(route + item_id), 200, PRODUCT_NOT_FOUND)


def test_reservations_are_confirmed_while_stock_remains(http, fake):
    for left in (3, 2, 1, 0):
        check_json(http.get("/reserve_product/1"), 200, reservation_confirmed(1))
        check_json(http.get("/list_products/1"), 200, product_1(left))
    check_json(http.get("/reserve_product/1"), 200, not_enough_stock(1))
    check_json(http.get("/list_products/1"), 200, product_1(0))
    assert fake.get("item.1") == "0"


def test_data_access_functions(fake):
    assert stock.get_item_by_id(3)["itemName"] == "Suitcase 650"
    assert stock.get_item_by_id(9) is None
    assert stock.get_current_reserved_stock_by_id(2, fake) is None
    stock.reserve_stock_by_id(2, 7, fake)
    assert fake.get("item.2") == "7"
    assert stock.get_current_reserved_stock_by_id(2, fake) == 7


def test_unknown_route_and_wrong_method_answer_json(http):
    check_json(http.get("/nowhere"), 404, '{"error":"Not Found"}')
    response = http.post("/list_products")
    check_json(response, 405, '{"error":"Method Not Allowed"}')
    assert "GET" in response.headers["Allow"]


def test_redis_down_answers_503_json_and_recovers(fake):
    app = stock.create_app(make_client(f"redis://127.0.0.1:{free_port()}/0"))  # as the app's own
    http = app.test_client()
    for path in ("/list_products/1", "/reserve_product/1"):
        response = http.get(path)
        assert response.status_code == 503
        assert response.content_type == "application/json"
        assert response.json["error"] == "Service Unavailable"
    check_json(http.get("/list_products"), 200, PRODUCTS)
    app.extensions["redis"] = fake  # Redis is back
    check_json(http.get("/list_products/1"), 200, product_1(4))


def test_app_factory_does_not_touch_redis():
    unreachable = redis.Redis(port=free_port())
    assert stock.create_app(unreachable).extensions["redis"] is unreachable


def test_real_server_answers_the_spec_bodies_and_stops_on_sigterm(redis_url, start_app):
    app, base = start_app("9_stock.py", redis_url)
    assert http_get(base + "/list_products") == (200, "application/json", PRODUCTS)
    assert http_get(base + "/list_products/1") == (200, "application/json", product_1(4))
    assert http_get(base + "/reserve_product/12") == (200, "application/json", PRODUCT_NOT_FOUND)
    assert app.stop(signal.SIGTERM) == 0
    assert (app.output, app.stderr) == ([], listening(base))


def test_200_concurrent_reservations_of_item_2_confirm_exactly_10(redis_url, start_app):
    app, base = start_app("9_stock.py", redis_url)
    answers = get_many([base + "/reserve_product/2"], 200)
    bodies = [body for _url, (_status, _type, body) in answers]
    assert bodies.count(reservation_confirmed(2)) == 10
    assert bodies.count(not_enough_stock(2)) == 190
    assert redis.Redis.from_url(redis_url).get("item.2") == b"0"
    assert app.stop(signal.SIGINT) == 130
    assert app.stderr == listening(base)


def test_two_instances_never_confirm_more_than_the_stock_and_stock_survives_restart(redis_url, start_app):
    first, base1 = start_app("9_stock.py", redis_url)
    second, base2 = start_app("9_stock.py", redis_url)
    answers = get_many([base1 + "/reserve_product/4", base2 + "/reserve_product/4"], 300)
    assert [body for _url, (_s, _t, body) in answers].count(reservation_confirmed(4)) == 5
    assert {status for _url, (status, _t, _b) in answers} == {200}
    assert first.stop() == 0 and second.stop() == 0
    restarted, base = start_app("9_stock.py", redis_url)
    assert http_get(base + "/reserve_product/4")[2] == not_enough_stock(4)
    assert restarted.stop() == 0
