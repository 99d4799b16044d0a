"""Task 5's publisher on another channel than its subscriber's: holberton_school_channel."""

import os
import time

import redis

client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"), decode_responses=True)
client.ping()
print("Redis client connected to the server")


def publish_message(message, time_ms):
    time.sleep(time_ms / 1000)
    print(f"About to send {message}")
    client.publish("holberton_school_channel", message)


publish_message("Holberton Student #1 starts course", 100)
publish_message("Holberton Student #2 starts course", 200)
publish_message("KILL_SERVER", 300)
publish_message("Holberton Student #3 starts course", 400)
