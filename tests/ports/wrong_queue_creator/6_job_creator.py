"""Task 6 on the wrong queue: push_notification, not push_notification_code."""

import os
import time

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
queue = Queue("push_notification", connection=connection, serializer=JSONSerializer)
job = queue.enqueue(
    "6_job_processor.send_notification", "4153518780", "This is the code to verify your account"
)
print(f"Notification job created: {job.id}")
while job.get_status() not in ("finished", "failed"):
    time.sleep(0.05)
print("Notification job completed" if job.get_status() == "finished" else "Notification job failed")
