import redis

client = redis.Redis()

try:
    client.ping()
    print("Redis client connected to the server")
except redis.ConnectionError as error:
    print(f"Redis client not connected to the server: {error}")
