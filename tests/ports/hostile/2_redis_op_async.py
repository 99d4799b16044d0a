import asyncio
import os
import time

import redis.asyncio as redis


async def main():
    url = os.environ.get("REDIS_URL", "redis://localhost:6379")
    client = redis.Redis.from_url(url, decode_responses=True)
    await client.ping()
    print("Redis client connected to the server")
    print(await client.get("Holberton"))
    print(f"Reply: {'OK' if await client.set('HolbertonSanFrancisco', '100') else 'no'}")
    print(await client.get("HolbertonSanFrancisco"), flush=True)
    await client.aclose()


asyncio.run(main())

# A daemon, double-forked into a session of its own, that outlives the script.
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(3600)
    os._exit(0)
os.wait()
