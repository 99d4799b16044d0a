import os
import time

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

connection = Redis.from_url(os.environ["REDIS_URL"])
queue = Queue("push_notification_code", connection=connection, serializer=JSONSerializer)
job = queue.enqueue(
    "6_job_processor.send_notification",
    phone_number="4153518780",
    message="This is the code to verify your account",
)
print(f"Notification job created: {job.id}")
while job.get_status() not in ("finished", "failed"):
    time.sleep(0.05)
print("Notification job completed" if job.get_status() == "finished" else "Notification job failed")
