"""Task 6 with RQ's defaults (pickle), waiting for its job's result on RQ's results stream."""

import os

from redis import Redis
from rq import Queue
from rq.results import Result

connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
queue = Queue("push_notification_code", connection=connection)
job = queue.enqueue(
    "6_job_processor.send_notification",
    phone_number="4153518780",
    message="This is the code to verify your account",
)
print(f"Notification job created: {job.id}", flush=True)
result = None
while result is None:
    result = job.latest_result(timeout=5)
print("Notification job completed" if result.type == Result.Type.SUCCESSFUL else "Notification job failed")
