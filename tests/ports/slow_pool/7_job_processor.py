import json
import multiprocessing
import os
import signal
import time

from redis import Redis
from rq import Worker, get_current_job

EVENTS = "push_notification_code_2:events"
blacklisted_numbers = ["4153518780", "4153518781"]


def tell(connection, job, **event):
    connection.publish(EVENTS, json.dumps({"job": job.id, **event}))


def send_notification(phone_number, message, job):
    tell(job.connection, job, kind="progress", progress=0)
    if phone_number in blacklisted_numbers:
        raise Exception(f"Phone number {phone_number} is blacklisted")
    tell(job.connection, job, kind="progress", progress=50)
    print(f"Sending notification to {phone_number}, with message: {message}")


def process_notification(data):
    send_notification(data["phoneNumber"], data["message"], get_current_job())


def report_completed(job, connection, result, *args, **kwargs):
    tell(connection, job, kind="completed")


def report_failed(job, connection, type, value, traceback):
    tell(connection, job, kind="failed", error=str(value))


LATE = 3  # seconds before the second worker starts: a pool slow to fill, as on a loaded machine


def work(delay):
    time.sleep(delay)
    connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
    Worker(["push_notification_code_2"], connection=connection).work(logging_level="WARNING")


if __name__ == "__main__":
    workers = [multiprocessing.Process(target=work, args=(delay,)) for delay in (0, LATE)]
    for worker in workers:
        worker.start()

    def stop(signum, frame):
        for worker in workers:
            worker.terminate()

    signal.signal(signal.SIGTERM, stop)
    for worker in workers:
        worker.join()
