"""Task 8: the processor tells each job's progress and outcome on a Redis stream, read
from where it stood before the first job was made."""

import os

from redis import Redis
from rq import Callback, Queue

EVENTS = "notifications:events"
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

connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"), decode_responses=True)
queue = Queue(
    "push_notification_code_2",
    connection=Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379")),
)
newest = connection.xrevrange(EVENTS, count=1)
position = newest[0][0] if newest else "0-0"
waiting = set()
for data in jobs:
    job = queue.enqueue(
        "7_job_processor.process_job",
        data,
        on_success=Callback("7_job_processor.tell_completed"),
        on_failure=Callback("7_job_processor.tell_failed"),
    )
    print(f"Notification job created: {job.id}")
    waiting.add(job.id)

while waiting:
    for _stream, entries in connection.xread({EVENTS: position}, block=1000) or []:
        for entry, event in entries:
            position = entry  # read on from there
            if event["kind"] == "progress":
                print(f"Notification job {event['job']} {event['progress']}% complete")
            elif event["kind"] == "completed":
                print(f"Notification job {event['job']} completed")
                waiting.discard(event["job"])
            else:
                print(f"Notification job {event['job']} failed: {event['error']}")
                waiting.discard(event["job"])
