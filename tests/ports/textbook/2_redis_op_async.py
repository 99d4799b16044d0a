import asyncio
import os

import redis.asyncio as redis

client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"), decode_responses=True)


async def set_new_school(school_name, value):
    reply = await client.set(school_name, value)
    print(f"Reply: {'OK' if reply else reply}")


async def display_school_value(school_name):
    print(await client.get(school_name))


async def main():
    await client.ping()
    print("Redis client connected to the server")
    await display_school_value("Holberton")
    await set_new_school("HolbertonSanFrancisco", "100")
    await display_school_value("HolbertonSanFrancisco")
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
