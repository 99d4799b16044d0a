"""Connecting to the Redis at REDIS_URL the way the original node_redis client did.

On connect it prints `Redis client connected to the server`; on a failed attempt it prints
`Redis client not connected to the server: ERROR` and tries again with back-off, forever,
until the server answers or the user presses Ctrl-C.
"""

import asyncio
import os
import time

import redis
import redis.asyncio
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from .console import say, warn

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
CONNECTED = "Redis client connected to the server"
NOT_CONNECTED = "Redis client not connected to the server: {error}"
FIRST_RETRY_DELAY = 0.1  # seconds
MAX_RETRY_DELAY = 2.0
# After a server restart every pooled connection is dead; retrying a command twice, quickly,
# on a fresh connection hides that from the caller instead of failing one request each.
COMMAND_RETRIES = 2


def redis_url():
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


def make_client(url=None, decode_responses=True):
    """A client for REDIS_URL. Nothing is sent until the first command.

    RQ needs `decode_responses=False`; the plain redis scripts read strings.
    """
    return redis.Redis.from_url(
        url or redis_url(), decode_responses=decode_responses, retry=command_retry()
    )


def make_async_client(url=None):
    return redis.asyncio.Redis.from_url(url or redis_url(), decode_responses=True)


def command_retry():
    return Retry(ExponentialBackoff(cap=0.1, base=0.01), COMMAND_RETRIES)


def retry_delays():
    delay = FIRST_RETRY_DELAY
    while True:
        yield delay
        delay = min(delay * 2, MAX_RETRY_DELAY)


def wait_until_connected(client, quiet=False):
    """Ping until the server answers, printing the spec's line for every attempt.

    `quiet` is for the job and web scripts, whose stdout the spec keeps for their own
    lines: the failed attempts go to stderr and success says nothing.
    """
    for delay in retry_delays():
        try:
            client.ping()
        except (redis.RedisError, OSError) as error:
            (warn if quiet else say)(NOT_CONNECTED.format(error=error))
            time.sleep(delay)
        else:
            if not quiet:
                say(CONNECTED)
            return client


async def wait_until_connected_async(client):
    for delay in retry_delays():
        try:
            await client.ping()
        except (redis.RedisError, OSError) as error:
            say(NOT_CONNECTED.format(error=error))
            await asyncio.sleep(delay)
        else:
            say(CONNECTED)
            return client


def connect(url=None, decode_responses=True, quiet=False):
    """A client that has answered a PING (the connected line is printed unless quiet)."""
    return wait_until_connected(make_client(url, decode_responses), quiet)


def connect_for_jobs(url=None):
    """A quiet, binary client for RQ (which needs decode_responses=False)."""
    return connect(url, decode_responses=False, quiet=True)
