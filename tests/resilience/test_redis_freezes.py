"""A Redis that freezes (SIGSTOP: the kernel still accepts connections and takes what
they send; nothing is answered). No request waits on it longer than REDIS_WAIT: then 503
in JSON. A request that needs no Redis is answered at once throughout. A reservation
answered 503 is not done when Redis wakes and runs what it was sent."""

import concurrent.futures
import json
import signal
import time

import pytest
import redis
from rq import Worker

from queuing_system.grader.expected import PRODUCTS, reservation_confirmed
from queuing_system.grader.harness import STOP_WITHIN, RunningScript, http_get, start_app, wait_for
from queuing_system.grader.redis_server import RedisServer
from queuing_system.jobs import create_jobs, job_queue
from queuing_system.web.greenlet_io import REDIS_WAIT

from .faults import frozen, traceback_free

# What the answer to a request that waited on Redis may take beyond REDIS_WAIT: the
# server's deadline tick (0.25 s) and a loaded machine.
SLACK = 1.5  # seconds
QUICK = 0.5  # seconds: a request that needs no Redis, answered while Redis is frozen
STOCK = 10  # item 2's
QUEUE, PROCESS = "push_notification_code_2", "7_job_processor.process"
NOTIFICATION = {"phoneNumber": "4153518743", "message": "This is the code 4321 to verify your account"}


@pytest.fixture
def server():
    with RedisServer() as server:
        yield server


def timed(url, timeout=30):
    started = time.monotonic()
    try:
        status, kind, body = http_get(url, timeout=timeout)
    except OSError as error:
        return None, None, repr(error), time.monotonic() - started
    return status, kind, body, time.monotonic() - started


def test_a_frozen_redis_holds_no_request_longer_than_its_bound_nor_one_that_needs_no_redis(server):
    client = redis.Redis.from_url(server.url, socket_timeout=10)
    app, base = start_app("9_stock.py", server.url)
    try:
        for _ in range(4):  # each server process has its connection to Redis open
            assert http_get(base + "/reserve_product/2")[2] == reservation_confirmed(2)
        waiting = [base + "/reserve_product/2"] * 24 + [base + "/list_products/1"] * 8
        with frozen(server), concurrent.futures.ThreadPoolExecutor(len(waiting) + 1) as pool:
            redis_answers = [pool.submit(timed, url) for url in waiting]
            time.sleep(0.2)  # let them reach the server: the rest come while they wait
            quick = [timed(base + "/list_products", timeout=5) for _ in range(10)]
            answers = [answer.result() for answer in redis_answers]
        # Redis runs now what it was sent while frozen: none of it takes a unit.
        wait_for(lambda: http_get(base + "/reserve_product/2")[2] == reservation_confirmed(2), timeout=10)
        assert app.stop() == 0
    finally:
        app.kill()
    for status, _kind, body, took in quick:
        assert (status, body) == (200, PRODUCTS)
        assert took < QUICK, f"/list_products took {took:.2f}s"
    for status, kind, body, took in answers:
        assert (status, kind) == (503, "application/json"), body
        assert json.loads(body)["reason"] == "Redis did not answer in time"
        assert took < REDIS_WAIT + SLACK, f"answered after {took:.2f}s"
    assert int(client.get("item.2")) == STOCK - 5  # the four before, the one after: no more
    traceback_free(app)


def test_a_frozen_redis_gets_the_seat_app_503s_in_time_and_it_recovers(server):
    app, base = start_app("100_seat.py", server.url)
    try:
        assert http_get(base + "/available_seats")[0] == 200
        with frozen(server), concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(timed, [base + "/available_seats", base + "/reserve_seat"] * 4))
        wait_for(lambda: http_get(base + "/available_seats")[0] == 200, timeout=10)
        assert app.stop() == 0
    finally:
        app.kill()
    for status, kind, body, took in answers:
        assert (status, kind) == (503, "application/json"), body
        assert took < REDIS_WAIT + SLACK, f"answered after {took:.2f}s"
    traceback_free(app)


@pytest.mark.parametrize("name", ["9_stock.py", "100_seat.py"])
def test_an_app_stops_within_5_s_while_redis_is_frozen(server, name):
    app, base = start_app(name, server.url)
    try:
        assert http_get(base + ("/process" if name == "100_seat.py" else "/list_products/1"))[0] == 200
        with frozen(server):
            started = time.monotonic()
            assert app.stop(timeout=STOP_WITHIN + SLACK) == 0
            took = time.monotonic() - started
    finally:
        app.kill()
    assert took < STOP_WITHIN, f"{took:.1f}s"
    traceback_free(app)


@pytest.mark.parametrize("busy", [True, False], ids=["mid-job", "idle"])
def test_a_processor_stops_within_5_s_while_redis_is_frozen(server, busy):
    # Its steps' socket has no timeout (no poll() per read): the worker's watch bounds them.
    client = redis.Redis.from_url(server.url)
    processor = RunningScript("7_job_processor.py", server.url)
    try:
        wait_for(lambda: len(Worker.all(connection=client)) == 2)
        if busy:
            create_jobs(job_queue(QUEUE, client), PROCESS, [NOTIFICATION] * 5000)
            wait_for(lambda: client.zcard(f"rq:finished:{QUEUE}") > 100)
        else:  # both waiting for a job (their start-up's upkeep is on redis-py's socket timeout)
            wait_for(lambda: sum(each.get("cmd") == "blmove" for each in client.client_list()) == 2)
        with frozen(server):
            started = time.monotonic()
            processor.process.send_signal(signal.SIGTERM)
            exit_code = processor.wait(timeout=STOP_WITHIN + SLACK)
            took = time.monotonic() - started
    finally:
        processor.kill()
    assert took < STOP_WITHIN, f"{took:.1f}s"
    assert exit_code == 0, processor.stderr
    assert "killed" not in processor.stderr, processor.stderr  # each worker stopped itself
    traceback_free(processor)
