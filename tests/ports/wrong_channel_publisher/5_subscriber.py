import os

import redis

client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"), decode_responses=True)
client.ping()
print("Redis client connected to the server")

subscriber = client.pubsub(ignore_subscribe_messages=True)
subscriber.subscribe("holberton school channel")
for message in subscriber.listen():
    print(message["data"])
    if message["data"] == "KILL_SERVER":
        subscriber.unsubscribe()
        break
