"""own_connection(): a client on one connection of its own, for a process that sends one
command at a time (the stock app's server processes, the worker's outbox); and which of
Redis's reply errors say it cannot serve now (retried) or refuse a command for good."""

import pytest
import redis
from redis._parsers.base import BaseParser

from queuing_system import connection
from queuing_system.connection import (
    RETRYABLE,
    Outage,
    ReplyErrorParser,
    cannot_serve_now,
    describe,
    is_fatal,
    make_client,
    reply_code,
    worth_retrying,
)
from queuing_system.grader.harness import wait_for
from queuing_system.grader.redis_server import RedisServer, free_port
from queuing_system.web.redis_speedups import own_connection


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


def test_a_new_connection_says_hello_and_nothing_else_before_its_first_command(redis_url, redis_binary):
    """One round trip to open a connection, not four: a connection killed every few
    milliseconds must live long enough to send its command (test_connection_kills.py)."""

    def calls():
        return {name: stats["calls"] for name, stats in redis_binary.info("commandstats").items()}

    client = make_client(redis_url)
    before = calls()
    client.get("nothing")
    after = calls()
    sent = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    client.close()
    assert sent == {"cmdstat_hello": 1, "cmdstat_get": 1, "cmdstat_info": 1}  # INFO: this test's own


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


# Reply errors as Redis sends them (without the leading "-").
CANNOT_SERVE_REPLIES = [
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
    "LOADING Redis is loading the dataset in memory",
    "OOM command not allowed when used memory > 'maxmemory'.",
    "READONLY You can't write against a read only replica.",
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
    "NOREPLICAS Not enough good replicas to write.",
    "ERR Error running script (call to f_1): @user_script:11: @user_script: 11: -OOM command not allowed",
]
REFUSED_FOR_GOOD = [
    "WRONGTYPE Operation against a key holding the wrong kind of value",
    "ERR unknown command 'NOSUCH', with args beginning with: ",
    "NOSCRIPT No matching script. Please use EVAL.",
    "NOAUTH Authentication required.",
]


@pytest.mark.parametrize("reply", CANNOT_SERVE_REPLIES)
def test_a_reply_error_of_a_redis_that_cannot_serve_now_is_retried_never_fatal(reply):
    error = ReplyErrorParser.parse_error(reply)  # what our clients raise
    assert isinstance(error, RETRYABLE) and worth_retrying(error) and not is_fatal(error)
    code = reply.split(": -")[-1].split()[0] if "Error running script" in reply else reply.split()[0]
    assert reply_code(error) == code and describe(error).startswith(f"{code} ")
    plain = BaseParser.parse_error(reply)  # any other redis-py client's
    assert cannot_serve_now(plain) and worth_retrying(plain) and not is_fatal(plain)


@pytest.mark.parametrize("reply", REFUSED_FOR_GOOD)
def test_a_command_refused_for_good_is_fatal_and_not_retried(reply):
    error = ReplyErrorParser.parse_error(reply)
    assert is_fatal(error) and not worth_retrying(error) and not cannot_serve_now(error)
    assert not isinstance(error, RETRYABLE) or isinstance(error, redis.AuthenticationError)


def test_an_outage_of_refusals_is_said_once_and_ends_once_writes_are_quiet(capsys, monkeypatch):
    monkeypatch.setattr(connection, "REFUSALS_QUIET", 0.2)
    outage = Outage()
    full = ReplyErrorParser.parse_error("OOM command not allowed when used memory > 'maxmemory'.")
    outage.lost(full)
    outage.lost(full)
    outage.back()  # a read went through: writes may still be refused
    assert (
        capsys.readouterr().err
        == "Redis cannot serve now: OOM command not allowed when used memory > 'maxmemory'.\n"
    )
    wait_for(lambda: outage.waited() is None, timeout=5)  # no refusal since: it is over
    assert capsys.readouterr().err.startswith("Redis serving again after ")
    busy = ReplyErrorParser.parse_error("BUSY Redis is busy running a script.")
    outage.lost(busy)
    outage.back()  # nothing is served under BUSY: any answer ends it
    assert capsys.readouterr().err.splitlines()[-1].startswith("Redis serving again after ")


def test_a_write_answered_ends_an_outage_of_refused_writes_at_once(capsys):
    # A processor stopped right after Redis took its writes again never said so: the line
    # waited for REFUSALS_QUIET, on a daemon timer that died with the process.
    outage = Outage()
    outage.lost(ReplyErrorParser.parse_error("OOM command not allowed when used memory > 'maxmemory'."))
    outage.back(wrote=True)
    assert outage.waited() is None
    assert capsys.readouterr().err.splitlines()[-1].startswith("Redis serving again after ")
