#!/usr/bin/env python3
"""Task 3: task 2 again, with async/await on redis.asyncio (the original promisified
node_redis's callbacks)."""

import asyncio
from contextlib import asynccontextmanager

import queuing_system as qs

client = None  # run_all() makes it, in the event loop that uses it


@asynccontextmanager
async def redis_client():
    """run_all()'s client; a function called on its own (its own event loop) opens one
    for the call: an asyncio client's connections belong to the loop that made them."""
    if client is not None:
        yield client
        return
    async with qs.make_client(asynchronous=True) as own:  # redis.asyncio's, for $REDIS_URL
        yield own


async def set_new_school(school_name, value):
    async with redis_client() as connection:
        qs.print_reply(await connection.set(school_name, value))  # node_redis's redis.print: `Reply: OK`


async def display_school_value(school_name):
    async with redis_client() as connection:
        qs.say(await connection.get(school_name))  # one write, flushed


async def run_all():
    global client
    client = qs.make_client(asynchronous=True)  # redis.asyncio's Redis.from_url($REDIS_URL), text
    try:
        await qs.wait_until_connected_async(client)  # the connected line, or a retry per not-connected line
        await display_school_value("Holberton")
        await set_new_school("HolbertonSanFrancisco", "100")
        await display_school_value("HolbertonSanFrancisco")
    finally:
        await client.aclose()
        client = None


def main(argv=None):
    qs.ArgumentParser(description=__doc__).parse_args(argv)  # argparse's, with --log-format
    asyncio.run(run_all())


if __name__ == "__main__":
    qs.run(main)  # exit 0 on SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us: never a traceback
