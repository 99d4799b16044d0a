import json
import os

from redis import Redis
from rq import Callback, Queue

EVENTS = "push_notification_code_2:events"  # where 7_job_processor.py tells what its jobs do
jobs = [
    {"phoneNumber": "4153518780", "message": "This is the code 1234 to verify your account"},
    {"phoneNumber": "4153518781", "message": "This is the code 4562 to verify your account"},
    {"phoneNumber": "4153518743", "message": "This is the code 4321 to verify your account"},
    {"phoneNumber": "4153538781", "message": "This is the code 4562 to verify your account"},
    {"phoneNumber": "4153118782", "message": "This is the code 4321 to verify your account"},
    {"phoneNumber": "4153718781", "message": "This is the code 4562 to verify your account"},
    {"phoneNumber": "4159518782", "message": "This is the code 4321 to verify your account"},
    {"phoneNumber": "4158718781", "message": "This is the code 4562 to verify your account"},
    {"phoneNumber": "4153818782", "message": "This is the code 4321 to verify your account"},
    {"phoneNumber": "4154318781", "message": "This is the code 4562 to verify your account"},
    {"phoneNumber": "4151218782", "message": "This is the code 4321 to verify your account"},
]

connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
queue = Queue("push_notification_code_2", connection=connection)
events = connection.pubsub()
events.subscribe(EVENTS)
events.get_message(timeout=5)  # subscribed before any job exists: no event can be missed

waiting = set()
for data in jobs:
    job = queue.enqueue(
        "7_job_processor.process_notification",
        data,
        on_success=Callback("7_job_processor.report_completed"),
        on_failure=Callback("7_job_processor.report_failed"),
    )
    print(f"Notification job created: {job.id}")
    waiting.add(job.id)

for message in events.listen():
    if message["type"] != "message":
        continue
    event = json.loads(message["data"])
    job_id = event["job"]
    if event["kind"] == "progress":
        print(f"Notification job {job_id} {event['progress']}% complete")
    elif event["kind"] == "completed":
        print(f"Notification job {job_id} completed")
        waiting.discard(job_id)
    elif event["kind"] == "failed":
        print(f"Notification job {job_id} failed: {event['error']}")
        waiting.discard(job_id)
    if not waiting:
        break
