import redis

client = redis.Redis(decode_responses=True)
client.ping()
print("Redis client connected to the server")


def set_new_school(school_name, value):
    reply = client.set(school_name, value)
    print(f"Reply: {'OK' if reply else reply}")


def display_school_value(school_name):
    print(client.get(school_name))


if __name__ == "__main__":
    display_school_value("Holberton")
    set_new_school("HolbertonSanFrancisco", "100")
    display_school_value("HolbertonSanFrancisco")
