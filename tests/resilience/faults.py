"""Redis made to err, freeze, fill up or forget, on a server of the test's own.

Each fault is a context manager that puts the server in that state and back:
`busy` (a Lua script that never ends: -BUSY to every other client until SCRIPT KILL),
`full` (maxmemory just under what Redis uses, noeviction: -OOM to every write),
`read_only` (a replica of a master that is not there: -READONLY to writes, data kept),
`stale` (the same replica told not to serve stale data: -MASTERDOWN to reads too),
`frozen` (SIGSTOP: nothing answered, connections accepted by the kernel).
"""

import os
import signal
import threading
from contextlib import contextmanager

import redis

from queuing_system.grader.harness import wait_for
from queuing_system.grader.redis_server import free_port

LUA_TIME_LIMIT_MS = 50  # how soon a long script makes Redis answer -BUSY to the others
SPIN = "while true do end"  # a script with no write: SCRIPT KILL can end it


def admin(server):
    return redis.Redis.from_url(server.url, socket_timeout=5)


@contextmanager
def busy(server):
    """Redis runs a script that never ends: every other client gets -BUSY until the block
    ends (SCRIPT KILL)."""
    client = admin(server)
    client.config_set("lua-time-limit", LUA_TIME_LIMIT_MS)
    spinner = redis.Redis.from_url(server.url, socket_timeout=None)  # it waits as long as it spins
    ended = []

    def spin():
        try:
            spinner.eval(SPIN, 0)
        except redis.ResponseError as error:  # "Script killed by user with SCRIPT KILL..."
            ended.append(error)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    wait_for(lambda: answers_busy(client), timeout=10)
    try:
        yield
    finally:
        wait_for(lambda: script_killed(client), timeout=10)
        thread.join(10)
        spinner.close()
        client.close()


def answers_busy(client):
    try:
        client.ping()
    except redis.ResponseError as error:
        return str(error).startswith("BUSY")
    return False


def script_killed(client):
    try:
        client.script_kill()
    except redis.ResponseError as error:  # NOTBUSY: it has ended
        return "NOTBUSY" in str(error)
    return False


def used_memory(client):
    return int(client.info("memory")["used_memory"])


@contextmanager
def full(server):
    """Redis is at its maxmemory under noeviction: every write that may grow it gets -OOM."""
    client = admin(server)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", max(used_memory(client) - 100_000, 1))
    try:
        yield
    finally:
        client.config_set("maxmemory", 0)
        client.close()


@contextmanager
def read_only(server):
    """Redis is a replica of a master that does not answer: it keeps its data, serves
    reads, and answers every write -READONLY."""
    client = admin(server)
    client.replicaof("127.0.0.1", free_port())
    try:
        yield
    finally:
        client.replicaof("NO", "ONE")
        client.close()


@contextmanager
def stale(server):
    """Redis is a replica cut off from its master, told not to serve stale data: every
    read and write gets -MASTERDOWN (PING and INFO still answer)."""
    client = admin(server)
    client.config_set("replica-serve-stale-data", "no")
    try:
        with read_only(server):
            yield
    finally:
        client.config_set("replica-serve-stale-data", "yes")
        client.close()


@contextmanager
def frozen(server):
    """Redis stopped with SIGSTOP: the kernel accepts connections and holds what they
    send; nothing is answered until the block ends (SIGCONT)."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def traceback_free(*scripts):
    """The scripts' stderr, having checked that none holds a traceback."""
    for script in scripts:
        assert "Traceback" not in script.stderr, f"{script.name}:\n{script.stderr}"
