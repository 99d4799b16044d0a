"""A port whose script does its task, then leaves a daemon behind: double-forked into a
session of its own, with a clean environment (nothing of its grader's in it), it would
keep running, and writing to Redis, long after its grading."""

import asyncio
import os
import sys

import redis.asyncio as redis


async def main():
    client = redis.Redis.from_url(
        os.environ.get("REDIS_URL", "redis://localhost:6379"), decode_responses=True
    )
    await client.ping()
    print("Redis client connected to the server")
    print(await client.get("Holberton"))
    print(f"Reply: {'OK' if await client.set('HolbertonSanFrancisco', '100') else 'no'}")
    print(await client.get("HolbertonSanFrancisco"), flush=True)
    await client.aclose()


asyncio.run(main())

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for fd in range(3):
            os.close(fd)
        os.execve(
            sys.executable,
            [sys.executable, "-c", "import time; time.sleep(600)", "queuing-grader-corpus-daemon"],
            {},
        )
    os._exit(0)
os.wait()
