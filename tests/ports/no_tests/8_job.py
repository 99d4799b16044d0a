import os
import threading
import time

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer


def send_notification(data):
    print(f"Sending notification to {data['phoneNumber']}, with message: {data['message']}")


def watch(jobs):
    """Print each job's outcome as it comes (Kue's job.on('complete'/'failed'))."""
    waiting = list(jobs)
    while waiting:
        for job in list(waiting):
            status = job.get_status()
            if status == "finished":
                print(f"Notification job {job.id} completed")
                waiting.remove(job)
            elif status == "failed":
                error = job.latest_result().exc_string.strip().splitlines()[-1].split(": ", 1)[-1]
                print(f"Notification job {job.id} failed: {error}")
                waiting.remove(job)
        time.sleep(0.1)


def create_push_notifications_jobs(jobs, queue):
    if not isinstance(jobs, list):
        raise Exception("Jobs is not an array")
    created = []
    for data in jobs:
        job = queue.enqueue("8_job.send_notification", data)
        print(f"Notification job created: {job.id}")
        created.append(job)
    watcher = threading.Thread(target=watch, args=(created,), daemon=True)
    watcher.start()
    return created


if __name__ == "__main__":
    connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
    queue = Queue("push_notification_code_3", connection=connection, serializer=JSONSerializer)
    job = {"phoneNumber": "4153518780", "message": "This is the code 1234 to verify your account"}
    created = create_push_notifications_jobs([job], queue)
    while created[0].get_status() not in ("finished", "failed"):
        time.sleep(0.1)
    time.sleep(0.5)  # let the watcher print it
