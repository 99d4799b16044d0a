import json
import os

from redis import Redis
from rq import get_current_job
from rq.worker_pool import WorkerPool

EVENTS = "push_notification_code_2:events"
blacklisted_numbers = ["4153518780", "4153518781"]


def tell(connection, job, **event):
    connection.publish(EVENTS, json.dumps({"job": job.id, **event}))


def send_notification(phone_number, message, job):
    tell(job.connection, job, kind="progress", progress=0)
    if phone_number in blacklisted_numbers:
        raise Exception(f"Phone number {phone_number} is blacklisted!")
    tell(job.connection, job, kind="progress", progress=50)
    print(f"Sending notification to {phone_number}, with message: {message}")


def process_notification(data):
    send_notification(data["phoneNumber"], data["message"], get_current_job())


def report_completed(job, connection, result, *args, **kwargs):
    tell(connection, job, kind="completed")


def report_failed(job, connection, type, value, traceback):
    tell(connection, job, kind="failed", error=str(value))


if __name__ == "__main__":
    connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
    pool = WorkerPool(["push_notification_code_2"], connection=connection, num_workers=2)
    pool.start()
