"""own_connection(): a client on one connection of its own, for a process that sends one
command at a time (the stock app's server processes, the worker's outbox)."""

import pytest
import redis

from queuing_system.connection import make_client, own_connection
from queuing_system.grader.redis_server import RedisServer, free_port


def test_every_command_goes_on_the_one_connection(clients):
    client, own = clients()
    first = own.client_id()
    for n in range(20):
        own.set(f"key:{n}", n)
    assert own.client_id() == first
    assert [own.get(f"key:{n}") for n in range(20)] == [str(n) for n in range(20)]


def test_a_connection_killed_under_it_is_made_again_for_the_next_command(clients, redis_binary):
    client, own = clients()
    killed = own.client_id()
    assert redis_binary.client_kill_filter(_id=killed) == 1
    assert own.set("after", "kill") is True
    assert own.client_id() != killed


def test_unreachable_redis_gives_a_client_that_connects_once_redis_is_there():
    port = free_port()
    client = make_client(f"redis://127.0.0.1:{port}/0")
    own = own_connection(client)  # no exception: the process starting it goes on
    try:
        with pytest.raises(redis.ConnectionError):
            own.ping()
        with RedisServer(port=port):
            assert own.ping() is True
    finally:
        own.close()
        client.close()


def test_closing_it_leaves_the_clients_pool_open(redis_url):
    client = make_client(redis_url)
    client.set("still", "open")
    own_connection(client).close()
    assert client.get("still") == "open"
    client.close()
