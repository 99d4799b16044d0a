"""A port that takes 4 GiB of memory, and touches every page of it, before it connects."""

import os

import redis

memory = bytearray(4 << 30)
for offset in range(0, len(memory), 4096):
    memory[offset] = 1

client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
client.ping()
print("Redis client connected to the server")
