"""Task 13's app made by create_app() alone serves the sale as `python 100_seat.py` does:
under Flask's own server and under gunicorn (several worker processes), the spec's JSON and
the spec's lines on stdout (issue 36: they answered null, then "Reservation are blocked")."""

import signal

import pytest

from queuing_system.grader.expected import (
    QUEUE_PROCESSING,
    RESERVATION_IN_PROCESS,
    available_seats,
    seat_completed,
)
from queuing_system.grader.harness import RunningScript, http_get, port_open, wait_for
from queuing_system.grader.redis_server import free_port

FACTORY = "100_seat:create_app()"
RUNNERS = {
    "python": lambda port: ["100_seat.py", "--port", str(port)],
    "flask run": lambda port: ["-m", "flask", "--app", FACTORY, "run", "--port", str(port)],
    "gunicorn": lambda port: ["-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", FACTORY],
}


@pytest.fixture
def launched():
    started = []

    def launch(runner, url):
        port = free_port()
        name, *args = RUNNERS[runner](port)
        app = RunningScript(name, url, *args)
        started.append(app)
        wait_for(lambda: port_open(port) or not app.running())
        assert app.running(), app.stderr
        return app, f"http://127.0.0.1:{port}"

    yield launch
    for app in started:
        app.kill()


@pytest.mark.parametrize("runner", RUNNERS)
def test_the_seat_app_opens_the_sale_and_serves_it_under_any_runner(
    runner, launched, redis_url, redis_binary
):
    redis_binary.set("available_seats", 3)  # a sale that ended: a lone app opens a new one
    app, base = launched(runner, redis_url)
    for _ in range(4):  # each gunicorn worker joins at its first request
        assert http_get(base + "/available_seats")[1:] == ("application/json", available_seats(50))
    assert http_get(base + "/reserve_seat")[2] == RESERVATION_IN_PROCESS
    assert http_get(base + "/process")[2] == QUEUE_PROCESSING
    wait_for(lambda: redis_binary.get("available_seats") == b"49")
    line = app.next_line()
    while line.startswith(" * "):  # Flask's own banner (flask run), before the app's lines
        line = app.next_line()
    assert line == seat_completed(1)
    assert http_get(base + "/available_seats")[2] == available_seats(49)
    assert redis_binary.zcard("seat_app:instances") >= 1
    assert app.stop(signal.SIGTERM) in (0, -signal.SIGTERM)  # Flask's server ends by the signal
    if runner != "flask run":  # killed by the signal, it runs no exit handler
        assert redis_binary.zcard("seat_app:instances") == 0  # it left the sale as it stopped
    assert "Traceback" not in app.stderr


def test_a_second_app_under_gunicorn_joins_the_sale_of_the_first(launched, redis_url, redis_binary):
    first, base1 = launched("python", redis_url)
    assert http_get(base1 + "/reserve_seat")[2] == RESERVATION_IN_PROCESS
    assert http_get(base1 + "/process")[2] == QUEUE_PROCESSING
    assert first.next_line() == seat_completed(1)
    second, base2 = launched("gunicorn", redis_url)
    for _ in range(4):
        assert http_get(base2 + "/available_seats")[2] == available_seats(49)  # joined, not reset
    assert first.stop() == second.stop() == 0
