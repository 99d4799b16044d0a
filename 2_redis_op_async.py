#!/usr/bin/env python3
"""Task 3: task 2 again, with async/await on redis.asyncio."""

import asyncio

from queuing_system.connection import make_async_client, wait_until_connected_async
from queuing_system.console import print_reply, say
from queuing_system.shutdown import run

client = make_async_client()


async def set_new_school(school_name, value):
    print_reply(await client.set(school_name, value))


async def display_school_value(school_name):
    say(await client.get(school_name))


async def run_all():
    await wait_until_connected_async(client)
    try:
        await display_school_value("Holberton")
        await set_new_school("HolbertonSanFrancisco", "100")
        await display_school_value("HolbertonSanFrancisco")
    finally:
        await client.aclose()


def main():
    asyncio.run(run_all())


if __name__ == "__main__":
    run(main)
