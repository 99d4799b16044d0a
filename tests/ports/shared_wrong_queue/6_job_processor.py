import os

from redis import Redis
from rq import Queue, Worker
from rq.serializers import JSONSerializer


def send_notification(phone_number, message):
    print(f"Sending notification to {phone_number}, with message: {message}")


if __name__ == "__main__":
    connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
    queue = Queue("push_notification", connection=connection, serializer=JSONSerializer)
    Worker([queue], connection=connection, serializer=JSONSerializer).work(logging_level="WARNING")
