"""Our clients pack commands with queuing_system.command_packer, through an argument of
redis-py's Connection that its documentation does not list: a redis-py release that moved
it must fail here, by name, not pack wrong bytes later."""

import inspect
import threading

import pytest
import redis
import redis.connection
import redis.sentinel

from queuing_system import command_packer
from queuing_system.connection import make_client
from queuing_system.lua import Script
from queuing_system.web import redis_speedups
from queuing_system.worker.steps import StepConnection

pytestmark = pytest.mark.skipif(
    not redis.connection.HIREDIS_AVAILABLE, reason="redis-py packs with hiredis only"
)


def test_the_installed_redis_py_is_a_tested_release():
    release = ".".join(redis.__version__.split(".")[:2])
    assert release in command_packer.TESTED_RELEASES, (
        f"redis-py {redis.__version__} is installed; queuing_system/command_packer.py is tested on "
        f"{', '.join(command_packer.TESTED_RELEASES)} only. Install a tested release (pip install -e .), "
        "or run the whole suite on this one and add it to TESTED_RELEASES"
    )


def test_our_clients_connections_pack_with_ours():
    assert command_packer.takes_a_packer(), (
        f"redis-py {redis.__version__}: Connection takes no command_packer"
    )
    client = make_client("redis://127.0.0.1:1/0")
    connection = client.connection_pool.make_connection()
    assert isinstance(connection._command_packer, command_packer.CommandPacker), (
        f"redis-py {redis.__version__}: a Connection no longer packs with the command_packer it is given"
    )


COMMANDS = [
    ("SET", "key", "value"),
    ("HSET", b"rq:job:1", "status", "queued", "timeout", 20, "score", 1.5, "big", 10**30),
    ("SET", "clé", "valeur é", "EX", 60),
    ("CONFIG GET", "maxmemory"),  # two words in one: sent as two arguments
    (b"CONFIG GET", b"maxmemory"),
    ("SET", memoryview(b"view"), bytearray(b"array")),  # hiredis refuses these: redis-py's way
    ("EVALSHA", "0" * 40, 1, "marker", *range(200), b"\x00\xff", ""),
]


@pytest.mark.parametrize(
    "command", COMMANDS, ids=[f"{n}-{command[0]!s}" for n, command in enumerate(COMMANDS)]
)
def test_ours_packs_as_redis_pys_own(command):
    assert command_packer.CommandPacker().pack(*command) == redis.connection.HiredisRespSerializer().pack(
        *command
    )


@pytest.mark.parametrize("bad", [None, object(), [1]], ids=["none", "object", "list"])
def test_ours_refuses_what_redis_pys_own_refuses(bad):
    with pytest.raises(redis.DataError) as own:
        redis.connection.HiredisRespSerializer().pack("SET", "key", bad)
    with pytest.raises(redis.DataError) as ours:
        command_packer.CommandPacker().pack("SET", "key", bad)
    assert str(ours.value) == str(own.value)


def test_a_client_packing_with_ours_talks_to_redis(redis_url):
    client = make_client(redis_url)
    try:
        client.set("clé", "valeur é", ex=60)
        with client.pipeline() as pipeline:
            pipeline.get("clé").hset("h", mapping={"n": 1, "f": 1.5}).hgetall("h")
            value, _added, fields = pipeline.execute()
        assert value == "valeur é"
        assert fields == {"n": "1", "f": "1.5"}
        assert "maxmemory" in client.config_get("maxmemory")
    finally:
        client.delete("clé", "h")
        client.close()


# Our Lua scripts run on a client of own_connection() are sent on its connection directly.
SCRIPTS = [
    ("return 42", [], []),
    ("return ARGV[1] .. KEYS[1]", ["key"], ["value é "]),
    ("return redis.call('GET', KEYS[1])", ["missing"], []),  # nil
    ("return {1, 'two', {3}}", [], []),
    ("return redis.call('INCRBY', KEYS[1], ARGV[1])", ["counter"], [5]),
]


@pytest.mark.parametrize("decode", [True, False], ids=["text", "bytes"])
def test_our_scripts_answer_as_redis_pys_on_every_kind_of_client(clients, decode):
    client, own = clients(decode)
    for text, keys, args in SCRIPTS:
        client.delete("counter")
        theirs = client.register_script(text)(keys, args)
        for on in (client, own):
            client.delete("counter")
            assert Script(text)(on, keys, args) == theirs, (text, on)
        client.delete("counter")


def test_a_script_error_is_redis_pys_error(clients):
    client, own = clients()
    with pytest.raises(redis.ResponseError) as theirs:
        client.register_script("return redis.call('NOSUCHCOMMAND')")()
    with pytest.raises(redis.ResponseError) as ours:
        Script("return redis.call('NOSUCHCOMMAND')")(own)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)
    assert Script("return 1")(own) == 1  # the connection is still in step


def test_on_its_own_connection_a_command_skips_redis_pys_command_path(clients, monkeypatch):
    client, own = clients()
    assert isinstance(own, redis_speedups.OwnConnectionClient)
    assert own.connection is not None, f"redis-py {redis.__version__}: no single connection"
    assert hasattr(own.single_connection_lock, "__enter__")
    for method in ("send_command", "pack_command", "send_packed_command", "read_response"):
        assert callable(getattr(own.connection, method, None)), f"redis-py {redis.__version__}: no {method}"
    script = Script("return 7")
    script(own)  # loaded

    def no_long_way(*args, **options):
        raise AssertionError("the command went through redis-py's execute_command")

    monkeypatch.setattr(redis.Redis, "execute_command", no_long_way)
    assert script(own) == 7
    assert own.set("k", "v") is True  # with its response callback
    assert own.get("k") == "v"


def replies(on):
    on.flushdb()
    return [
        on.set("s", "v"),
        on.set("s", "w", nx=True),
        on.get("s"),
        on.get("missing"),
        on.exists("s", "missing"),
        on.incrby("n", 5),
        on.hset("h", mapping={"a": 1, "b": "é"}),
        on.hgetall("h"),
        on.rpush("l", 1, 2, 3),
        on.lrange("l", 0, -1),
        on.zadd("z", {"m": 1.5}),
        on.zrange("z", 0, -1, withscores=True),
        on.expire("s", 60),
        on.ttl("s") > 0,
        on.type("h"),
        on.delete("s", "missing"),
        on.ping(),
    ]


@pytest.mark.parametrize("decode", [True, False], ids=["text", "bytes"])
def test_on_its_own_connection_commands_answer_as_redis_pys(clients, decode):
    client, own = clients(decode)
    assert replies(own) == replies(client)


def test_a_script_outlives_a_script_flush_and_a_killed_connection(clients, redis_binary):
    client, own = clients()
    script = Script("return redis.call('INCR', KEYS[1])")
    assert script(own, ["n"]) == 1
    redis_binary.script_flush()
    assert script(own, ["n"]) == 2  # NOSCRIPT: loaded again
    redis_binary.client_kill_filter(_id=own.client_id())
    assert script(own, ["n"]) == 3  # sent again on a new connection
    assert redis_binary.get("n") == b"3"


def test_the_redis_py_parts_the_replication_wait_relies_on_are_where_they_were():
    """replication.py reads a connection's `_sock` (to shut it from the Sentinels' watcher
    once the primary moved; to connect a Sentinel's dropped connection through connect(),
    which asks the Sentinels, where redis-py 8.1's send_packed_command connects it by
    connect_check_health to the old address); on_connect_check_health is redis-py's step
    after each connect. A redis-py where these moved, or that fixed the reconnect, fails
    here by name."""
    made = redis.Connection(host="127.0.0.1", port=1)
    assert "_sock" in vars(made) and made._sock is None
    assert "self.connect_check_health(" in inspect.getsource(redis.Connection.send_packed_command)
    assert "self.on_connect_check_health(" in inspect.getsource(redis.Connection.connect_check_health)
    # A Sentinel's managed connection takes its pool from the pool's connection_kwargs, and
    # ours takes `replicas` from the same (connection.make_client).
    managed = inspect.getsource(redis.sentinel.SentinelManagedConnection.__init__)
    assert 'kwargs.pop("connection_pool")' in managed


KEYS = [(), ("marker",), ["marker", "rq:queue:q", "clé"]]


@pytest.mark.parametrize("keys", KEYS, ids=["none", "one", "list"])
def test_a_scripts_packed_evalsha_is_redis_pys_own(keys):
    script = Script("return 1")
    args = [0, "name", "", "é", 1.5, 10**30, b"\x00\xff", ""]
    for _ in range(2):  # its script and keys packed once, then taken as they were
        assert script.packed(keys, args) == b"".join(
            redis.connection.HiredisRespSerializer().pack("EVALSHA", script.sha, len(keys), *keys, *args)
        )


def test_a_packed_script_outlives_a_script_flush(redis_binary):
    connection = StepConnection(redis_binary.connection_pool, threading.Event())
    script = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    try:
        assert script(connection, ("packed",), [1]) == 1
        redis_binary.script_flush()
        assert script(connection, ("packed",), [1]) == 2  # NOSCRIPT: loaded again, sent as packed
        assert redis_binary.get("packed") == b"2"
    finally:
        connection.close()
        redis_binary.delete("packed")
