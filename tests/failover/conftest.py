"""A primary, two replicas and three Sentinels from the bundled redis-server
(benchmarks/sentinel_set.py), one per module, for tests on REDIS_URL=redis+sentinel://..."""

import pytest
import redis

from benchmarks.sentinel_set import SentinelSet


@pytest.fixture(scope="module")
def sentinels():
    with SentinelSet() as servers:
        yield servers


@pytest.fixture
def sentinel_url(sentinels):
    """The set's Sentinel URL, its primary emptied (and the replicas with it) first."""
    client = redis.Redis.from_url(sentinels.plain_url(), socket_timeout=5)
    client.flushall()
    client.execute_command("WAIT", len(sentinels.nodes) - 1, 5000)
    client.close()
    return sentinels.url
