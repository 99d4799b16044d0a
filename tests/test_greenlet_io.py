"""greenlet_io: the apps' Redis sockets wait in the event loop, not on it, and a request's
commands are never sent past its deadline; and the redis-py internals it relies on."""

import inspect
import socket
import time

import pytest
import redis

from queuing_system.connection import make_client
from queuing_system.web import greenlet_io
from queuing_system.web.greenlet_io import LoopConnection, LoopSocket, use_loop_sockets
from tests.answering import in_a_request


@pytest.fixture
def mute():
    """A port where the kernel accepts connections and takes their bytes, and nothing ever
    answers: a frozen Redis. Yields (url, the server's end of the first connection)."""
    listener = socket.create_server(("127.0.0.1", 0))
    ends = []

    def accepted():
        if not ends:
            listener.settimeout(5)
            ends.append(listener.accept()[0])
        return ends[0]

    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0", accepted
    for end in ends:
        end.close()
    listener.close()


def test_a_request_waiting_on_a_frozen_redis_lets_the_loop_run_and_ends_at_its_deadline(mute):
    url, _ = mute
    client = make_client(url)
    use_loop_sockets(client)
    answer, took, turns = in_a_request(lambda: client.get("key"), deadline_in=0.5)
    assert isinstance(answer, redis.TimeoutError)
    assert 0.4 < took < 1.5
    assert turns > 20  # the loop served on meanwhile: nothing blocked it


def test_after_its_deadline_a_request_sends_redis_nothing(mute):
    url, accepted = mute
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    connection = LoopConnection(host="127.0.0.1", port=port)
    connection._sock = connection._connect()  # connected outside the request, no handshake

    def late_command():
        time.sleep(0.2)  # past the deadline below
        connection.send_command("INCR", "counter")

    answer, _, _ = in_a_request(late_command, deadline_in=0.1)
    assert isinstance(answer, redis.TimeoutError)
    server_end = accepted()
    server_end.settimeout(5)
    assert server_end.recv(1024) == b""  # the connection closed, and the command never sent


def test_outside_a_request_a_loop_socket_works_as_a_blocking_one(redis_url):
    client = make_client(redis_url)
    use_loop_sockets(client)
    assert client.set("a", "1") and client.incr("a") == 2
    with client.pipeline() as pipeline:
        assert pipeline.incr("a").get("a").execute() == [3, "3"]
    assert isinstance(client.connection_pool.get_connection()._sock, LoopSocket)


def test_a_tls_or_other_client_is_left_as_it_is():
    ssl_client = redis.Redis.from_url("rediss://127.0.0.1:1/0")
    use_loop_sockets(ssl_client)
    assert ssl_client.connection_pool.connection_class is redis.SSLConnection
    use_loop_sockets(object())  # a stand-in with no pool: nothing to do


def test_the_redis_py_parts_it_relies_on_are_where_they_were():
    """Fenced, as redis_speedups is: a redis-py where these moved fails here by name."""
    assert "_connect" in vars(redis.Connection)
    assert issubclass(LoopConnection, redis.Connection)
    parameters = inspect.signature(redis.Connection.__init__).parameters
    assert {"socket_keepalive", "socket_keepalive_options", "socket_type"} <= parameters.keys()
    made = redis.Connection(host="127.0.0.1", port=1)
    for name in ("host", "port", "socket_type", "socket_connect_timeout", "socket_timeout"):
        assert hasattr(made, name), name
    pool = redis.ConnectionPool.from_url("redis://127.0.0.1:1/0")
    assert pool.connection_class is redis.Connection and callable(pool.reset)
    # The socket calls redis-py makes on a connection's socket, all LoopSocket's own.
    for name in ("sendall", "recv", "recv_into", "settimeout", "gettimeout", "setblocking"):
        assert name in vars(LoopSocket), name
    assert greenlet_io.REDIS_WAIT > greenlet_io.LATE_MARGIN > 0
