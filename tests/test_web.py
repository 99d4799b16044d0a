"""The apps' JSON (queuing_system/web/app.py): orjson where it writes the bytes Flask's own
encoder would, Flask's encoder for everything else."""

import dataclasses
import datetime
import decimal
import enum
import gc
import json
import signal
import sys
import uuid

import fakeredis
import pytest
from flask.json.provider import DefaultJSONProvider

from queuing_system.connection import FatalRedisError
from queuing_system.grader.redis_server import free_port
from queuing_system.shutdown import Terminated, on_shutdown, on_start
from queuing_system.web import app as web
from queuing_system.web.app import create_json_app


class Color(enum.IntEnum):
    RED = 1


@dataclasses.dataclass
class Point:
    x: int
    when: datetime.date


BODIES = [
    {"status": "Reservation confirmed", "itemId": 2},
    [{"itemId": 1, "itemName": "Suitcase 250", "price": 50, "initialAvailableQuantity": 4}],
    {"numberOfAvailableSeats": "50"},
    {"error": "Not Found"},
    None,
    {"name": "Valise café ☕", "emoji": "\U0001f9f3"},  # the stdlib escapes non-ASCII
    {"stock": 10**30, "negative": -(2**63) - 1},  # beyond 64 bits
    {1: "int key", None: "none key", False: "bool key"},
    {"when": datetime.datetime(2026, 11, 24, 6, 30, tzinfo=datetime.timezone.utc)},
    {"day": datetime.date(2026, 11, 24)},
    {"point": Point(1, datetime.date(2026, 1, 2))},
    {"price": decimal.Decimal("9.99"), "id": uuid.UUID(int=7), "color": Color.RED},
    ("a", "tuple"),
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_bodies_are_the_bytes_flasks_encoder_writes_compact(body):
    app = create_json_app(__name__)
    flasks = json.dumps(body, default=DefaultJSONProvider.default, separators=(",", ":"))
    assert app.json.dumps(body) == flasks
    with app.app_context():
        assert app.json.response(body).get_data(as_text=True) == flasks


def test_response_takes_args_or_kwargs_as_flasks_does():
    app = create_json_app(__name__)
    with app.app_context():
        assert app.json.response(1, 2).get_data() == b"[1,2]"
        assert app.json.response(status="ok").get_data() == b'{"status":"ok"}'
        assert app.json.response().get_data() == b"null"
        with pytest.raises(TypeError):
            app.json.response(1, status="ok")


def test_what_start_up_made_is_kept_out_of_the_cycle_collectors_passes(monkeypatch):
    """A full pass over start-up's objects stalled a server process for ~25 ms, every
    connection it held with it: they are frozen before serving (and before forking)."""
    seen = []
    monkeypatch.setenv("PORT", "0")
    monkeypatch.setattr(web, "serve_socket", lambda app, sock, **kwargs: seen.append(gc.get_freeze_count()))
    gc.unfreeze()
    try:
        assert web.serve_app(create_json_app("frozen"), processes=1) == web.EXIT_OK
    finally:
        gc.unfreeze()
    assert seen and seen[0] > 1000, seen


@pytest.fixture
def script_process(monkeypatch):
    """serve() sets up the process as a script's: SIGTERM's handler and the hook that keeps
    a stop; both are put back after the test."""
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_serve_reads_the_command_line_before_it_makes_the_app(script_process, capsys):
    made = []
    with pytest.raises(SystemExit) as stop:
        web.serve(lambda: made.append("app"), ["--help"], description="The app.")
    assert stop.value.code == 0
    assert made == []
    assert "The app." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("stop", "code"), [(None, 0), (Terminated(0), 0), (KeyboardInterrupt(), 130), (FatalRedisError("no"), 1)]
)
def test_serve_waits_for_redis_and_starts_the_app_before_it_listens(script_process, monkeypatch, stop, code):
    done = []
    app = create_json_app("started")
    app.extensions["redis"] = fakeredis.FakeRedis(decode_responses=True)
    monkeypatch.setattr(web, "wait_until_connected", lambda client, quiet: done.append(("waited", client)))
    on_start(app, lambda: done.append("started"))
    on_shutdown(app, lambda: done.append("stopped"))

    def serving(app, sock, **kwargs):
        done.append(("served", sock.getsockname()))
        if stop is not None:
            raise stop

    monkeypatch.setattr(web, "serve_socket", serving)
    port = free_port()
    assert web.serve(lambda: app, ["--host", "127.0.0.1", "--port", str(port)]) == code
    assert done == [
        ("waited", app.extensions["redis"]),
        "started",
        ("served", ("127.0.0.1", port)),
        "stopped",
    ]
