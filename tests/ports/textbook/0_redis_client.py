import os

import redis

client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))

try:
    client.ping()
    print("Redis client connected to the server")
except redis.ConnectionError as error:
    print(f"Redis client not connected to the server: {error}")
