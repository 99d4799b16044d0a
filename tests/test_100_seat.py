"""Task 13: seat reservations through the reserve_seat queue, never more than 50."""

import importlib
import signal
import subprocess

import fakeredis
import pytest
import redis
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from queuing_system import Sale
from queuing_system import jobs as jobs_module
from queuing_system.grader.expected import (
    QUEUE_PROCESSING,
    RESERVATION_BLOCKED,
    RESERVATION_FAILED,
    RESERVATION_IN_PROCESS,
    available_seats,
    seat_completed,
    seat_failed,
)
from queuing_system.grader.harness import (
    get_many,
    http_get,
    listening,
    rq_worker_command,
    script_env,
    scripts_dir,
    wait_for,
)
from queuing_system.jobs import job_queue
from queuing_system.worker.pool import drain
from tests.answering import in_a_request

ROOT = scripts_dir()  # the checkout: conftest.py points the harness at it

seat = importlib.import_module("100_seat")


def sale_of(client):
    """The seat app's part in the sale, as its main() makes it."""
    return Sale(client, seat.SEATS_KEY, seat.ENABLED_KEY, seat.TOTAL_SEATS)


@pytest.fixture
def server():
    return fakeredis.FakeServer()


@pytest.fixture
def db(server):
    return fakeredis.FakeRedis(server=server, decode_responses=True)


@pytest.fixture
def jobs(server):
    return fakeredis.FakeRedis(server=server)


@pytest.fixture
def http(db, jobs):
    sale = sale_of(db)
    sale.join()  # the start-up step, as main() takes it
    app = seat.create_app(db, jobs)
    yield app.test_client()
    sale.leave()
    app.extensions["listener"].stop()


def seats(http):
    response = http.get("/available_seats")
    assert response.content_type == "application/json"
    return response.get_data(as_text=True)


def test_start_up_sets_50_seats_and_enables_reservations(http, db):
    assert seats(http) == available_seats(50)
    assert seat.reservation_enabled(db)


def test_reserve_seat_queues_a_job_that_takes_one_seat(http, jobs, capsys):
    response = http.get("/reserve_seat")
    assert (response.status_code, response.get_data(as_text=True)) == (200, RESERVATION_IN_PROCESS)
    assert job_queue("reserve_seat", jobs).job_ids == ["1"]
    drain({seat.QUEUE: seat.PROCESS}, jobs)
    http.application.extensions["listener"].wait()
    assert seats(http) == available_seats(49)
    assert capsys.readouterr().out == seat_completed(1) + "\n"


def test_the_last_seat_blocks_reservations_and_a_job_without_seat_fails(http, db, jobs, capsys):
    seat.reserve_seat(1, db)
    assert http.get("/reserve_seat").get_data(as_text=True) == RESERVATION_IN_PROCESS
    assert http.get("/reserve_seat").get_data(as_text=True) == RESERVATION_IN_PROCESS
    drain({seat.QUEUE: seat.PROCESS}, jobs)
    http.application.extensions["listener"].wait()
    assert seats(http) == available_seats(0)
    assert capsys.readouterr().out == f"{seat_completed(1)}\n{seat_failed(2)}\n"
    assert http.get("/reserve_seat").get_data(as_text=True) == RESERVATION_BLOCKED


def test_reservation_failed_when_the_job_cannot_be_saved(http, monkeypatch):
    real = jobs_module.on_one_connection

    def cannot_save(client, commands, again=False):
        if commands[0][0] == "WATCH":  # every try of the batch
            raise redis.ConnectionError("Connection refused")
        return real(client, commands, again)

    monkeypatch.setattr(jobs_module, "on_one_connection", cannot_save)
    assert http.get("/reserve_seat").get_data(as_text=True) == RESERVATION_FAILED


def test_a_reservation_saved_whose_answer_was_lost_is_in_process_and_its_end_printed(
    http, jobs, monkeypatch, capsys
):
    """Redis saved the job, its answer was lost, and Redis could not be asked in the
    request's time (a failover under way): the job runs and takes a seat, so the app says
    it is in process and prints how it ended, as for any job."""
    real = jobs_module.on_one_connection

    def answer_lost(client, commands, again=False):
        if commands[0][0] == "EXISTS":  # the look that would settle it
            raise redis.ConnectionError("Connection refused")
        replies = real(client, commands, again)
        if commands[0][0] == "WATCH":  # saved by Redis, the reply lost
            raise redis.ConnectionError("Connection closed by server.")
        return replies

    monkeypatch.setattr(jobs_module, "on_one_connection", answer_lost)
    answer, _, _ = in_a_request(lambda: http.get("/reserve_seat").get_data(as_text=True), deadline_in=1.0)
    assert answer == RESERVATION_IN_PROCESS
    monkeypatch.undo()
    drain({seat.QUEUE: seat.PROCESS}, jobs)
    http.application.extensions["listener"].wait()
    assert capsys.readouterr().out == f"{seat_completed(1)}\n"
    assert seats(http) == available_seats(49)


def test_errors_are_json(http):
    response = http.get("/nowhere")
    assert (response.status_code, response.get_data(as_text=True)) == (404, '{"error":"Not Found"}')
    response = http.delete("/process")
    assert (response.status_code, response.content_type) == (405, "application/json")


def test_process_answers_at_once_and_is_idempotent(http):
    assert http.get("/process").get_data(as_text=True) == QUEUE_PROCESSING
    assert http.get("/process").get_data(as_text=True) == QUEUE_PROCESSING


def test_80_reservations_with_process_twice_and_an_extra_worker_take_exactly_50_seats(
    redis_url, start_app, redis_binary
):
    app, base = start_app("100_seat.py", redis_url)
    assert http_get(base + "/available_seats")[2] == available_seats(50)
    answers = get_many([base + "/reserve_seat"], 80, clients=32)
    assert [body for _url, (_s, _t, body) in answers] == [RESERVATION_IN_PROCESS] * 80
    assert http_get(base + "/process")[2] == QUEUE_PROCESSING
    assert http_get(base + "/process")[2] == QUEUE_PROCESSING
    extra = subprocess.Popen(
        rq_worker_command(redis_url, "reserve_seat", burst=True),
        cwd=ROOT,
        env=script_env(redis_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    queue = job_queue("reserve_seat", redis_binary)
    finished, failed = FinishedJobRegistry(queue=queue), FailedJobRegistry(queue=queue)
    wait_for(lambda: finished.count + failed.count == 80)
    extra.wait(30)
    assert (finished.count, failed.count) == (50, 30)
    for _ in range(80):
        app.next_line()
    assert sorted(int(line.split()[3]) for line in app.output) == list(range(1, 81))
    assert sum(line.endswith(" completed") for line in app.output) == 50
    assert sum(line.endswith(" failed: Not enough seats available") for line in app.output) == 30
    assert http_get(base + "/available_seats")[2] == available_seats(0)
    assert http_get(base + "/reserve_seat")[2] == RESERVATION_BLOCKED
    assert app.stop(signal.SIGTERM) == 0
    assert app.stderr == listening(base)
    assert len(app.output) == 80


def test_a_second_instance_joins_the_running_sale_and_a_lone_restart_opens_a_new_one(server, monkeypatch):
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    first, second = sale_of(client), sale_of(client)
    assert first.join() is True
    client.set("available_seats", 3)  # seats taken meanwhile
    assert second.join() is False
    assert client.get("available_seats") == "3"
    first.leave()
    second.leave()
    restarted = sale_of(client)
    assert restarted.join() is True
    assert client.get("available_seats") == "50"
    restarted.leave()


def test_a_second_app_process_does_not_give_the_seats_back(redis_url, start_app, redis_binary):
    first, base1 = start_app("100_seat.py", redis_url)
    for _ in range(3):
        assert http_get(base1 + "/reserve_seat")[2] == RESERVATION_IN_PROCESS
    assert http_get(base1 + "/process")[2] == QUEUE_PROCESSING
    for _ in range(3):
        first.next_line()
    second, base2 = start_app("100_seat.py", redis_url)
    assert http_get(base2 + "/available_seats")[2] == available_seats(47)
    assert first.stop() == 0 and second.stop() == 0
    alone, base = start_app("100_seat.py", redis_url)
    assert http_get(base + "/available_seats")[2] == available_seats(50)
    assert alone.stop() == 0


def test_the_sale_and_the_worker_are_the_apps_extensions_left_and_stopped_as_it_stops(db, jobs):
    app = seat.create_app(db, jobs)
    sale = app.extensions["sale"]
    assert sale.join_once in app.before_request_funcs[None]  # joined before the first request
    assert db.get(seat.SEATS_KEY) is None  # made, it wrote nothing
    assert app.test_client().get("/available_seats").get_data(as_text=True) == available_seats(50)
    stops = [callback.__qualname__ for callback in app.extensions["on_shutdown"]]
    assert stops == ["Sale.leave", "BackgroundWorker.stop"]
    for callback in app.extensions["on_shutdown"]:
        callback()
    assert db.zcard("seat_app:instances") == 0  # no longer counted among those serving
    app.extensions["listener"].stop()
