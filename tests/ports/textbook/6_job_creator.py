import os
import time

from redis import Redis
from rq import Queue

connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
queue = Queue("push_notification_code", connection=connection)

job = queue.enqueue(
    "6_job_processor.process_notification",
    {"phoneNumber": "4153518780", "message": "This is the code to verify your account"},
)
print(f"Notification job created: {job.id}")

while True:
    status = job.get_status()
    if status == "finished":
        print("Notification job completed")
        break
    if status == "failed":
        print("Notification job failed")
        break
    time.sleep(0.1)
