"""Task 10 with RQ's defaults: pickle, RQ's ids, the outcome read from RQ's results stream."""

import os
import threading

from redis import Redis
from rq import Queue
from rq.results import Result


def send_notification(data):
    print(f"Sending notification to {data['phoneNumber']}, with message: {data['message']}")


def follow(job):
    result = None
    while result is None:
        result = job.latest_result(timeout=5)
    if result.type == Result.Type.SUCCESSFUL:
        print(f"Notification job {job.id} completed", flush=True)
    else:
        print(f"Notification job {job.id} failed: {result.exc_string.strip().splitlines()[-1]}", flush=True)


followers = []


def create_push_notifications_jobs(jobs, queue):
    if not isinstance(jobs, list):
        raise Exception("Jobs is not an array")
    created = []
    for data in jobs:
        job = queue.enqueue("8_job.send_notification", data)
        print(f"Notification job created: {job.id}", flush=True)
        created.append(job)
    for job in created:  # as long as the process lives
        followers.append(threading.Thread(target=follow, args=(job,), daemon=True))
        followers[-1].start()
    return created


if __name__ == "__main__":
    connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
    queue = Queue("push_notification_code_3", connection=connection)
    job = {"phoneNumber": "4153518780", "message": "This is the code 1234 to verify your account"}
    create_push_notifications_jobs([job], queue)
    for follower in followers:
        follower.join()
