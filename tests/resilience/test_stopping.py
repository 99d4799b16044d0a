"""Every long-running script stops within 5 s of SIGTERM or a terminal's Ctrl-C (SIGINT to
its whole process group), cleanly, whether Redis is up, down or restarting, and leaves
nothing of its own running."""

import contextlib
import os
import signal
import threading
import time

import pytest
import redis
from rq import Worker

from queuing_system.grader.expected import CONNECTED, NOT_CONNECTED_PREFIX
from queuing_system.grader.harness import RunningScript, http_get, processes_using, start_app, wait_for
from queuing_system.grader.redis_server import RedisServer
from queuing_system.jobs import job_queue

STOP_WITHIN = 5.0  # seconds, as the spec says
SIGNALS = {"SIGTERM": (signal.SIGTERM, 0), "Ctrl-C": (signal.SIGINT, 130)}


def registered_workers(url, queue, count):
    connection = redis.Redis.from_url(url)
    return lambda: len(Worker.all(queue=job_queue(queue, connection))) == count


def start_subscriber(url):
    script = RunningScript("5_subscriber.py", url)
    assert script.next_line() == CONNECTED
    client = redis.Redis.from_url(url)
    wait_for(lambda: client.pubsub_numsub("holberton school channel")[0][1] == 1)
    return script


def start_creator(name):
    def start(url):
        script = RunningScript(name, url)
        assert script.next_line().startswith("Notification job created: ")
        return script

    return start


def start_processor(name, queue, count):
    def start(url):
        script = RunningScript(name, url)
        wait_for(registered_workers(url, queue, count))
        return script

    return start


def start_seat_app(url):
    app, base = start_app("100_seat.py", url)
    assert http_get(base + "/process")[0] == 200  # its worker thread runs too
    wait_for(registered_workers(url, "reserve_seat", 1))
    return app


def start_stock_app(url):
    return start_app("9_stock.py", url)[0]


SCRIPTS = {
    "5_subscriber": (start_subscriber, "stdout"),
    "6_job_creator": (start_creator("6_job_creator.py"), "stderr"),
    "7_job_creator": (start_creator("7_job_creator.py"), "stderr"),
    "8_job": (start_creator("8_job.py"), "stderr"),
    "6_job_processor": (start_processor("6_job_processor.py", "push_notification_code", 1), "stderr"),
    "7_job_processor": (start_processor("7_job_processor.py", "push_notification_code_2", 2), "stderr"),
    "9_stock": (start_stock_app, None),  # idle between requests: nothing to notice
    "100_seat": (start_seat_app, "stderr"),
}


def wait_until_noticed(script, where):
    """Until the script has said that Redis is gone (so it is in its waiting loop)."""
    if where == "stdout":
        assert script.next_line(timeout=15).startswith(NOT_CONNECTED_PREFIX)
    elif where == "stderr":
        wait_for(lambda: "not connected" in script.stderr, timeout=15)


@pytest.mark.parametrize("signal_name", SIGNALS)
@pytest.mark.parametrize("redis_state", ["up", "down", "restarting"])
@pytest.mark.parametrize("name", SCRIPTS)
def test_a_long_running_script_stops_within_5_s(name, redis_state, signal_name):
    start, where = SCRIPTS[name]
    sig, code = SIGNALS[signal_name]
    with RedisServer() as server:
        script = start(server.url)
        try:
            if redis_state != "up":
                server.stop()
                wait_until_noticed(script, where)
            stopping_at = time.monotonic()
            if sig == signal.SIGINT:
                os.killpg(script.pid, sig)  # as a terminal does: the whole process group
            else:
                script.process.send_signal(sig)
            restart = threading.Thread(target=server.start)  # beside the stop, not before its clock
            if redis_state == "restarting":
                restart.start()
            exit_code = script.wait(timeout=STOP_WITHIN + 5)
            took = time.monotonic() - stopping_at
            if redis_state == "restarting":
                restart.join()
        finally:
            script.kill()
    assert took < STOP_WITHIN, f"{name} took {took:.1f}s to stop"
    assert exit_code == code, script.stderr
    assert "Traceback" not in script.stderr
    assert "killed" not in script.stderr, script.stderr  # each of its processes stopped itself
    if redis_state == "down":  # nothing answered: nothing may say it did
        assert "connected to the server again" not in script.stderr, script.stderr
    wait_for(lambda: not processes_using(server.url), timeout=2)


@contextlib.contextmanager
def ctrl_c_ignored():
    """What a shell script's `python x.py &` does to x.py: SIGINT ignored from its start."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_script_started_with_ctrl_c_ignored_still_stops_on_it(name):
    """`kill -INT` still stops it, with 130: 100_seat exited 0 then, 5_subscriber ran on."""
    start, _where = SCRIPTS[name]
    with RedisServer() as server:
        with ctrl_c_ignored():
            script = start(server.url)
        try:
            script.process.send_signal(signal.SIGINT)
            exit_code = script.wait(timeout=STOP_WITHIN + 5)
        finally:
            script.kill()
    assert exit_code == 130, script.stderr
    assert "Traceback" not in script.stderr
