"""Task 8 by polling the jobs' meta: a step its processor takes between two looks is missed."""

import os
import time

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

jobs = [
    ("4153518780", "This is the code 1234 to verify your account"),
    ("4153518781", "This is the code 4562 to verify your account"),
    ("4153518743", "This is the code 4321 to verify your account"),
    ("4153538781", "This is the code 4562 to verify your account"),
    ("4153118782", "This is the code 4321 to verify your account"),
    ("4153718781", "This is the code 4562 to verify your account"),
    ("4159518782", "This is the code 4321 to verify your account"),
    ("4158718781", "This is the code 4562 to verify your account"),
    ("4153818782", "This is the code 4321 to verify your account"),
    ("4154318781", "This is the code 4562 to verify your account"),
    ("4151218782", "This is the code 4321 to verify your account"),
]

connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
queue = Queue("push_notification_code_2", connection=connection, serializer=JSONSerializer)
created = []
for phone_number, message in jobs:
    job = queue.enqueue("7_job_processor.send_notification", phone_number, message)
    print(f"Notification job created: {job.id}")
    created.append(job)

seen = {job.id: None for job in created}
while created:
    for job in list(created):
        job.refresh()
        progress = job.meta.get("progress")
        if progress is not None and progress != seen[job.id]:
            print(f"Notification job {job.id} {progress}% complete")
            seen[job.id] = progress
        status = job.get_status()
        if status == "finished":
            print(f"Notification job {job.id} completed")
            created.remove(job)
        elif status == "failed":
            error = job.latest_result().exc_string.strip().splitlines()[-1].split(": ", 1)[-1]
            print(f"Notification job {job.id} failed: {error}")
            created.remove(job)
    time.sleep(0.05)
