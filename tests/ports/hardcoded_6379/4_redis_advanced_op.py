import redis

client = redis.Redis(decode_responses=True)
client.ping()
print("Redis client connected to the server")

schools = {"Portland": 50, "Seattle": 80, "New York": 20, "Bogota": 20, "Cali": 40, "Paris": 2}
for city, value in schools.items():
    print(f"Reply: {client.hset('HolbertonSchools', city, value)}")
print(client.hgetall("HolbertonSchools"))
