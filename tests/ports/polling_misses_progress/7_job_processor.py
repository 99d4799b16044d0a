"""Task 9, right: progress 0, then 50 unless blacklisted, saved in each job's meta."""

import os

from redis import Redis
from rq import Queue, get_current_job
from rq.serializers import JSONSerializer
from rq.worker_pool import WorkerPool

blacklisted = ["4153518780", "4153518781"]


def report_progress(job, percent):
    job.meta["progress"] = percent
    job.save_meta()


def send_notification(phone_number, message):
    job = get_current_job()
    report_progress(job, 0)
    if phone_number in blacklisted:
        raise ValueError(f"Phone number {phone_number} is blacklisted")
    report_progress(job, 50)
    print(f"Sending notification to {phone_number}, with message: {message}")


if __name__ == "__main__":
    connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
    queue = Queue("push_notification_code_2", connection=connection, serializer=JSONSerializer)
    WorkerPool([queue], connection=connection, num_workers=2, serializer=JSONSerializer).start()
