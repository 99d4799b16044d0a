"""RQ's own worker in the failover trials (failover_peers.py): the settings `rq worker -c
failover_rq` reads (SENTINEL, from $REDIS_URL, as RQ's docs configure Sentinel), the job
function it runs, and the creator run as a script:

    python failover_rq.py     # task 8's eleven jobs by RQ's enqueue_many, then their ends

RQ has no job events: the creator looks at its jobs' status until each has ended, and
prints the lines ours prints. Its ids are RQ's own (uuid4).
"""

import os
import sys
import time
from urllib.parse import urlsplit

QUEUE = "failover_rq"
BLACKLISTED = ("4153518780", "4153518781")
JOBS = [
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
LOOK_EVERY = 0.05  # seconds between two looks at the jobs' status


def sentinel_settings(url):
    """RQ's SENTINEL setting for a redis+sentinel:// URL."""
    parts = urlsplit(url)
    hosts = parts.netloc.rpartition("@")[2]
    instances = [(host, int(port)) for host, _, port in (each.rpartition(":") for each in hosts.split(","))]
    service, _, db = parts.path.strip("/").partition("/")
    return {"INSTANCES": instances, "MASTER_NAME": service, "DB": int(db or 0)}


SENTINEL = sentinel_settings(os.environ["REDIS_URL"]) if "REDIS_URL" in os.environ else None


def send_notification(phone_number, message):
    if phone_number in BLACKLISTED:
        raise ValueError(f"Phone number {phone_number} is blacklisted")
    print(f"Sending notification to {phone_number}, with message: {message}", flush=True)


def main():
    from redis.sentinel import Sentinel
    from rq import Queue
    from rq.job import Job

    settings = SENTINEL
    connection = Sentinel(settings["INSTANCES"]).master_for(settings["MASTER_NAME"], db=settings["DB"])
    queue = Queue(QUEUE, connection=connection)
    jobs = queue.enqueue_many([Queue.prepare_data("failover_rq.send_notification", job) for job in JOBS])
    for job in jobs:
        print(f"Notification job created: {job.id}", flush=True)
    waiting = {job.id for job in jobs}
    while waiting:
        time.sleep(LOOK_EVERY)
        for job in Job.fetch_many(list(waiting), connection=connection):
            if job is None:
                continue
            status = job.get_status(refresh=False)
            if status == "finished":
                print(f"Notification job {job.id} completed", flush=True)
            elif status == "failed":
                reason = (job.latest_result().exc_string or "").strip().splitlines()[-1:] or ["?"]
                print(f"Notification job {job.id} failed: {reason[0].partition(': ')[2]}", flush=True)
            else:
                continue
            waiting.discard(job.id)


if __name__ == "__main__":
    sys.exit(main())
