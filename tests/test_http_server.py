"""The HTTP server's stop, in this process: what a stop finds half done is finished, not
left pending (real processes: tests/resilience/test_http_server.py)."""

import asyncio
import signal
import socket

import pytest

from queuing_system.web import http_server
from queuing_system.web.http_server import Acceptor, Server, close_all, listen


def never_called(environ, start_response):
    raise AssertionError("no request was sent")


def test_a_connection_taken_just_before_a_stop_is_made_then_closed():
    loop = asyncio.new_event_loop()
    sock = listen("127.0.0.1", 0)
    server = Server(never_called, *sock.getsockname()[:2])
    server.loop = loop
    acceptor = Acceptor(loop, sock, server)
    try:
        with socket.create_connection(sock.getsockname()[:2], timeout=5) as client:
            loop.run_until_complete(asyncio.sleep(0.05))  # the client's connection is queued
            acceptor.accept()  # taken: its connection is a task that has not run yet
            assert len(asyncio.all_tasks(loop)) == 1
            acceptor.close()  # the stop
            close_all(loop, server.connections)
            assert asyncio.all_tasks(loop) == set()  # nothing left pending
            assert client.recv(100) == b""  # and the connection was closed
    finally:
        sock.close()
        loop.close()


class Delivered(Exception):
    """What the handler that was there before does with the stop, here."""


def deliver_here(signum, frame):
    raise Delivered(signum)


def stop_after(function):
    def stopping(*args):
        result = function(*args)
        signal.raise_signal(signal.SIGTERM)  # noted by the server's Stops
        return result

    return stopping


@pytest.mark.parametrize(
    "moment",
    [
        (http_server, "wake_on_signals"),  # just after the loop is made: it must not be stopped
        (Acceptor, "start"),  # once it was checked for: its loop must stop at once
    ],
    ids=["as the loop is made", "as it starts serving"],
)
def test_a_stop_as_the_server_starts_ends_it_cleanly(monkeypatch, moment):
    owner, name = moment
    monkeypatch.setattr(owner, name, stop_after(getattr(owner, name)))
    previous = signal.signal(signal.SIGTERM, deliver_here)
    sock = listen("127.0.0.1", 0)
    try:
        with pytest.raises(Delivered):  # not "Event loop stopped before Future completed"
            http_server.serve_socket(never_called, sock)
    finally:
        sock.close()
        signal.signal(signal.SIGTERM, previous)


def empty_json(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


def test_a_connection_idle_for_the_keep_alive_timeout_is_closed(monkeypatch):
    monkeypatch.setattr(http_server, "KEEP_ALIVE_TIMEOUT", 0.3)
    loop = asyncio.new_event_loop()
    sock = listen("127.0.0.1", 0)
    server = Server(empty_json, *sock.getsockname()[:2])
    server.loop = loop
    acceptor = Acceptor(loop, sock, server)
    acceptor.start()
    loop.call_soon(server.check_deadlines)

    async def idle_client():
        reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await reader.readuntil(b"{}")
        answered = loop.time()
        rest = await asyncio.wait_for(reader.read(), timeout=10)  # b"" once the server closes
        writer.close()
        return answer, rest, loop.time() - answered

    try:
        answer, rest, idle = loop.run_until_complete(idle_client())
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert rest == b""
        assert idle >= 0.3 - 0.01  # closed for its idleness, not before
        assert server.connections == set()
    finally:
        acceptor.close()
        close_all(loop, server.connections)
        sock.close()
        loop.close()
