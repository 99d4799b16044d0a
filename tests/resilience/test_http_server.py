"""The apps' HTTP server (queuing_system/http_server.py) on the real apps: keep-alive and
pipelining, HTTP/1.0, HEAD, bodies too big, requests too slow, a port already taken, and
the stock app's server processes."""

import json
import os
import signal
import socket

import pytest

from queuing_system.grader.harness import RunningScript, http_get, listening, processes_using, wait_for
from queuing_system.grader.redis_server import free_port


def address(base):
    host, port = base.rsplit("/", 1)[1].split(":")
    return host, int(port)


def exchange(base, data, timeout=10):
    """Everything the server sends back to `data` until it closes the connection."""
    with socket.create_connection(address(base), timeout=timeout) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def parse_responses(reply):
    """[(status, headers, body)] of the responses one after another in `reply`."""
    responses = []
    while reply:
        head, _, rest = reply.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}
        length = int(headers["content-length"])
        responses.append((int(lines[0].split()[1]), headers, rest[:length]))
        reply = rest[length:]
    return responses


def get(path, *extra_headers, version="1.1"):
    lines = [f"GET {path} HTTP/{version}", "Host: x", *extra_headers, "", ""]
    return "\r\n".join(lines).encode()


def test_pipelined_requests_are_answered_in_order_on_one_connection(redis_url, start_app):
    _app, base = start_app("9_stock.py", redis_url)
    requests = get("/list_products/1") + get("/nope") + get("/list_products/2", "Connection: close")
    answers = parse_responses(exchange(base, requests))
    assert [status for status, _headers, _body in answers] == [200, 404, 200]
    assert [json.loads(body).get("itemId") for _status, _headers, body in answers] == [1, None, 2]
    assert json.loads(answers[1][2]) == {"error": "Not Found"}
    assert answers[2][1]["connection"] == "close"


def test_an_http_1_0_request_is_answered_and_its_connection_closed(redis_url, start_app):
    _app, base = start_app("9_stock.py", redis_url)
    [(status, headers, body)] = parse_responses(exchange(base, get("/list_products/3", version="1.0")))
    assert (status, headers["content-type"], json.loads(body)["itemId"]) == (200, "application/json", 3)


def test_head_answers_the_headers_of_get_without_its_body(redis_url, start_app):
    _app, base = start_app("9_stock.py", redis_url)
    _status, _type, body = http_get(base + "/list_products")
    reply = exchange(base, get("/list_products", "Connection: close").replace(b"GET", b"HEAD", 1))
    head, _, rest = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and rest == b""
    assert f"Content-Length: {len(body.encode())}\r\n".encode() in head + b"\r\n"


def test_a_body_over_1_mb_is_refused_in_json(redis_url, start_app):
    app, base = start_app("9_stock.py", redis_url)
    head = b"POST /list_products HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"
    [(status, headers, body)] = parse_responses(exchange(base, head + b"x" * 2_000_000))
    assert (status, headers["content-type"], json.loads(body)) == (
        413,
        "application/json",
        {"error": "Request Entity Too Large"},
    )
    assert http_get(base + "/list_products")[0] == 200
    assert app.stop() == 0


def test_a_request_that_takes_over_5_s_to_arrive_is_answered_408_and_closed(redis_url, start_app):
    _app, base = start_app("100_seat.py", redis_url)
    [(status, _headers, body)] = parse_responses(exchange(base, b"GET /reserve_seat HTTP/1.1\r\nHost"))
    assert (status, json.loads(body)) == (408, {"error": "Request Timeout"})
    assert http_get(base + "/available_seats")[2] == '{"numberOfAvailableSeats":"50"}'  # nothing reserved


@pytest.mark.parametrize("name", ["9_stock.py", "100_seat.py"])
def test_a_port_already_taken_is_said_in_one_line(redis_url, name):
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        app = RunningScript(name, redis_url, PORT=str(port))
        assert app.wait() == 1
    assert app.output == []
    assert app.stderr.startswith(f"Cannot listen on 127.0.0.1:{port}: ") and app.stderr.count("\n") == 1


def server_processes(app):
    """The pids of the stock app's server processes: its children."""
    children = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(app.pid) and fields[0] != "Z":
            children.append(int(entry))
    return sorted(children)


def test_the_stock_app_replaces_a_server_process_that_died(redis_url, start_app):
    app, base = start_app("9_stock.py", redis_url)
    wait_for(lambda: len(server_processes(app)) == 2)
    first = server_processes(app)
    os.kill(first[0], signal.SIGKILL)
    wait_for(lambda: len(server_processes(app)) == 2 and first[0] not in server_processes(app))
    assert [http_get(base + "/list_products/1")[0] for _ in range(20)] == [200] * 20
    assert app.stop() == 0
    assert app.stderr == listening(base)


def test_the_stock_apps_server_processes_do_not_outlive_it(redis_url, start_app):
    app, _base = start_app("9_stock.py", redis_url)
    wait_for(lambda: len(server_processes(app)) == 2)
    os.kill(app.pid, signal.SIGKILL)
    wait_for(lambda: not processes_using(redis_url))  # its server processes included


# Werkzeug answers a WebSocket handshake to a plain route with 400 (WebsocketMismatch).
@pytest.mark.parametrize("protocol, status", [("websocket", 400), ("h2c", 200)])
def test_an_upgrade_we_do_not_offer_is_answered_then_the_connection_closed(
    redis_url, start_app, protocol, status
):
    # What follows an Upgrade request on the stream need not be HTTP/1.1: never read it.
    _app, base = start_app("9_stock.py", redis_url)
    upgrade = get("/list_products/1", "Connection: Upgrade", f"Upgrade: {protocol}")
    answers = parse_responses(exchange(base, upgrade + get("/list_products/2")))
    assert [(got, headers.get("connection"), headers["content-type"]) for got, headers, _body in answers] == [
        (status, "close", "application/json")
    ]
