"""HTTP at its edges, on the real servers: requests the server cannot parse, OPTIONS, and
many slow clients."""

import json
import re
import resource
import socket

import pytest

from queuing_system.grader.harness import http_get

MALFORMED = {
    "a 100 KB path": (b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "a 1 MB header": (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 1_000_000 + b"\r\n\r\n", 431),
    "2,000 headers": (
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(2000)) + b"\r\n",
        431,
    ),
    "HTTP/2.0": (b"GET /available_seats HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    "not HTTP": (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400),
}


def raw_request(base, data):
    """(status, headers as a dict, body) of the reply to bytes sent as they are."""
    host, port = base.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # it may answer and close before reading all of a huge request
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(re.match(r"HTTP/1\.[01] (\d{3})", lines[0]).group(1))
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}
    return status, headers, body


APPS = [("9_stock.py", "/list_products"), ("100_seat.py", "/available_seats")]


@pytest.mark.parametrize("case", MALFORMED)
@pytest.mark.parametrize("name, path", APPS)
def test_a_request_the_server_cannot_parse_is_answered_in_json(redis_url, start_app, name, path, case):
    data, status = MALFORMED[case]
    app, base = start_app(name, redis_url)
    got, headers, body = raw_request(base, data)
    assert (got, headers["content-type"]) == (status, "application/json")
    assert "error" in json.loads(body)
    assert http_get(base + path)[0] == 200  # and it still serves
    assert app.stop() == 0


@pytest.mark.parametrize("name, path", APPS)
def test_options_answers_json(redis_url, start_app, name, path):
    app, base = start_app(name, redis_url)
    status, content_type, body = http_get(base + path, method="OPTIONS")
    assert (status, content_type, body) == (200, "application/json", '{"allow":["GET","HEAD","OPTIONS"]}')
    assert app.stop() == 0


SLOW_CLIENTS = 2000
STOP_WITHIN = 5  # seconds, as the spec says


@pytest.mark.parametrize("leave_first", [False, True], ids=["stop-as-they-wait", "stop-as-they-leave"])
@pytest.mark.parametrize("name, path", APPS)
def test_2000_slow_clients_do_not_deny_service_to_the_others(redis_url, start_app, name, path, leave_first):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 3 * SLOW_CLIENTS)), hard))
    app, base = start_app(name, redis_url)
    host, port = base.rsplit("/", 1)[1].split(":")
    slow = []
    try:
        for _ in range(SLOW_CLIENTS):  # each sends its headers a byte at a time, never ending
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nX")
            slow.append(sock)
        answers = []
        for _ in range(10):
            for sock in slow:
                try:
                    sock.sendall(b"x")
                except OSError:
                    pass  # dropped for being slow: as it should
            answers.append(http_get(base + path, timeout=5)[0])
        assert answers == [200] * 10
        if leave_first:  # all at once: a server with a thread each took 2 to 10 s to stop then
            for sock in slow:
                sock.close()
        assert app.stop(timeout=STOP_WITHIN) == 0
    finally:
        for sock in slow:
            sock.close()


CUT_OFF = {  # a request whose client stopped sending before the blank line that ends it
    "9_stock.py": b"GET /reserve_product/1 HTTP/1.1\r\nHost: x\r\nX-Half",
    "100_seat.py": b"GET /reserve_seat HTTP/1.1\r\nHost: x\r\nX-Half",
}


@pytest.mark.parametrize("name", CUT_OFF)
def test_a_request_cut_off_before_its_end_is_not_served(redis_url, redis_binary, start_app, name):
    # Served, the seat app made a reservation for a client gone mid-request; 2,000 slow
    # clients closing at once so sent it 2,000 requests, and it then took over 30 s to stop.
    app, base = start_app(name, redis_url)
    before = redis_binary.get("item.1"), redis_binary.llen("rq:queue:reserve_seat")
    host, port = base.rsplit("/", 1)[1].split(":")
    for _ in range(20):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(CUT_OFF[name])
            sock.shutdown(socket.SHUT_WR)  # it can still answer: it must not
            assert sock.recv(65536) == b""
    assert (redis_binary.get("item.1"), redis_binary.llen("rq:queue:reserve_seat")) == before
    assert app.stop() == 0


def exchange(base, data):
    """[(status, body), ...] of the replies to bytes sent as they are, the client then done
    sending (each reply has a Content-Length: ours always do)."""
    host, port = base.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        stream = b""
        while chunk := sock.recv(65536):
            stream += chunk
    replies = []
    while stream:
        head, _, rest = stream.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
        replies.append((int(head.split()[1]), json.loads(rest[:length])))
        stream = rest[length:]
    return replies


def get(path):
    return b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path


def test_requests_sent_at_once_on_one_connection_are_answered_in_their_order(redis_url, start_app):
    # Each waits for Redis in turn, the connection's next one behind it.
    app, base = start_app("9_stock.py", redis_url)
    replies = exchange(base, get(b"/reserve_product/3") * 3 + get(b"/list_products/3"))
    assert [status for status, _ in replies] == [200] * 4
    confirmed, none_left = "Reservation confirmed", "Not enough stock available"
    assert [body["status"] for _, body in replies[:3]] == [confirmed, confirmed, none_left]
    assert replies[3][1]["currentQuantity"] == 0
    assert app.stop() == 0


def test_a_client_done_sending_gets_the_answer_that_waited_on_redis(redis_url, redis_binary, start_app):
    app, base = start_app("9_stock.py", redis_url)
    for _ in range(5):
        # A script Redis lacks: three round trips (EVALSHA, SCRIPT LOAD, EVALSHA) after the
        # client's end of the stream has come.
        redis_binary.script_flush()
        assert exchange(base, get(b"/reserve_product/2")) == [
            (200, {"status": "Reservation confirmed", "itemId": 2})
        ]
    assert app.stop() == 0


def test_a_request_refused_after_others_is_answered_after_them(redis_url, redis_binary, start_app):
    app, base = start_app("9_stock.py", redis_url)
    redis_binary.script_flush()  # the reservation waits on Redis three times
    replies = exchange(base, get(b"/reserve_product/2") + b"NOT HTTP\r\n\r\n")
    confirmed = {"status": "Reservation confirmed", "itemId": 2}
    assert replies == [(200, confirmed), (400, {"error": "Bad Request"})]
    assert app.stop() == 0
