"""REDIS_URL naming Sentinels: redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE[/DB].
Read into the Sentinels, the service and the database; anything else is said in one line
(connection.redis_url, the scripts: tests/resilience/test_fatal_errors.py)."""

import pytest
import redis
import redis.asyncio.sentinel
import redis.sentinel

from queuing_system.connection import (
    FatalRedisError,
    InvalidURLClient,
    SentinelURL,
    make_client,
    parse_sentinel_url,
    redis_url,
)
from queuing_system.replication import PrimaryOnly, SentinelReplicas

GOOD = {
    "redis+sentinel://127.0.0.1:26380/mymaster": SentinelURL((("127.0.0.1", 26380),), "mymaster"),
    "redis+sentinel://a:1,b:2,c/svc/3": SentinelURL((("a", 1), ("b", 2), ("c", 26379)), "svc", 3),
    "redis+sentinel://:s%40cret@h:5/svc/0": SentinelURL((("h", 5),), "svc", 0, None, "s@cret"),
    "redis+sentinel://user:pw@h:5/svc/": SentinelURL((("h", 5),), "svc", 0, "user", "pw"),
    "redis+sentinel://[::1]:7,[::1]/svc": SentinelURL((("::1", 7), ("::1", 26379)), "svc"),
}
BAD = {
    "no service": "redis+sentinel://127.0.0.1:26379",
    "an empty service": "redis+sentinel://127.0.0.1:26379/",
    "a port that is no number": "redis+sentinel://:Secret-pw@host:x/mymaster",
    "a port out of range": "redis+sentinel://host:70000/mymaster",
    "an empty host": "redis+sentinel://a:1,,b:2/mymaster",
    "a database that is no number": "redis+sentinel://h:1/mymaster/zero",
    "a part too many": "redis+sentinel://h:1/mymaster/0/1",
    "options": "redis+sentinel://h:1/mymaster?socket_timeout=1",
}


@pytest.mark.parametrize("url, expected", GOOD.items(), ids=list(GOOD))
def test_a_sentinel_url_names_the_sentinels_the_service_and_the_database(url, expected):
    assert parse_sentinel_url(url) == expected


@pytest.mark.parametrize("url", BAD.values(), ids=list(BAD))
def test_a_sentinel_url_that_is_wrong_says_what_a_sentinel_url_is(url):
    with pytest.raises(ValueError, match=r"a Sentinel URL is redis\+sentinel://"):
        parse_sentinel_url(url)


@pytest.mark.parametrize("url", BAD.values(), ids=list(BAD))
def test_a_wrong_sentinel_url_is_fatal_and_its_password_never_shown(url, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(FatalRedisError):
        redis_url()
    said = capsys.readouterr().out
    assert said.startswith("Redis client not connected to the server: REDIS_URL is not valid: ")
    assert "Secret" not in said and said.count("\n") == 1
    assert isinstance(make_client(url), InvalidURLClient)


def test_a_sentinel_url_makes_clients_whose_connections_find_the_primary_through_the_sentinels():
    url = "redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster/2"  # nothing is sent yet
    for client in (make_client(url), make_client(url, decode_responses=False)):
        pool = client.connection_pool
        assert isinstance(pool, redis.sentinel.SentinelConnectionPool) and pool.service_name == "mymaster"
        assert issubclass(pool.connection_class, redis.sentinel.SentinelManagedConnection)
        assert issubclass(pool.connection_class, PrimaryOnly)
        assert isinstance(pool.connection_kwargs["replicas"], SentinelReplicas)
        assert pool.connection_kwargs["db"] == 2
        order = pool.connection_class.__mro__
        assert order.index(PrimaryOnly) < order.index(redis.Connection)  # ours before redis-py's
        assert pool.make_connection().replicas is pool.connection_kwargs["replicas"]
    assert (
        make_client(url).connection_pool.connection_kwargs["replicas"] is pool.connection_kwargs["replicas"]
    )
    asynchronous = make_client(url, asynchronous=True)
    assert isinstance(asynchronous.connection_pool, redis.asyncio.sentinel.SentinelConnectionPool)
    graders = make_client(url, decode_responses=False, socket_timeout=5, socket_connect_timeout=3)
    assert graders.connection_pool.connection_kwargs["socket_connect_timeout"] == 3
