#!/usr/bin/env python3
"""Task 3: task 2 again, with async/await on redis.asyncio (the original promisified
node_redis's callbacks)."""

import argparse
import asyncio

import queuing_system as qs

client = None  # main() makes it, in the event loop that uses it


async def set_new_school(school_name, value):
    qs.print_reply(await client.set(school_name, value))


async def display_school_value(school_name):
    qs.say(await client.get(school_name))


async def run_all():
    global client
    client = qs.make_async_client()  # redis.asyncio's Redis for REDIS_URL, reading text
    try:
        await qs.wait_until_connected_async(client)
        await display_school_value("Holberton")
        await set_new_school("HolbertonSanFrancisco", "100")
        await display_school_value("HolbertonSanFrancisco")
    finally:
        await client.aclose()


def main(argv=None):
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    asyncio.run(run_all())


if __name__ == "__main__":
    qs.run(main)
