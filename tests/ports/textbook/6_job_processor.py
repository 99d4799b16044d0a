import os

from redis import Redis
from rq import Queue, Worker


def send_notification(phone_number, message):
    print(f"Sending notification to {phone_number}, with message: {message}")


def process_notification(data):
    send_notification(data["phoneNumber"], data["message"])


if __name__ == "__main__":
    connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
    worker = Worker([Queue("push_notification_code", connection=connection)], connection=connection)
    worker.work()
