"""Task 9: the job functions here, telling progress and outcomes on a Redis stream; the
processing, two at a time, by RQ's own command, `rq worker-pool`."""

import os

from rq import get_current_job

EVENTS = "notifications:events"
blacklisted_numbers = ["4153518780", "4153518781"]


def tell(connection, job, **event):
    connection.xadd(EVENTS, {"job": job.id, **{name: str(value) for name, value in event.items()}})


def send_notification(phone_number, message, job):
    tell(job.connection, job, kind="progress", progress=0)
    if phone_number in blacklisted_numbers:
        raise Exception(f"Phone number {phone_number} is blacklisted")
    tell(job.connection, job, kind="progress", progress=50)
    print(f"Sending notification to {phone_number}, with message: {message}", flush=True)


def process_job(data):
    send_notification(data["phoneNumber"], data["message"], get_current_job())


def tell_completed(job, connection, result, *args, **kwargs):
    tell(connection, job, kind="completed")


def tell_failed(job, connection, type, value, traceback):
    tell(connection, job, kind="failed", error=value)


if __name__ == "__main__":
    url = os.environ.get("REDIS_URL", "redis://localhost:6379")
    os.execvp(
        "rq", ["rq", "worker-pool", "--num-workers", "2", "--url", url, "--quiet", "push_notification_code_2"]
    )
