#!/usr/bin/env python3
"""Task 6: create one notification job and wait to hear how it ended."""

from rq import Callback, Queue
from rq.serializers import JSONSerializer

import queuing_system as qs

QUEUE = "push_notification_code"
PROCESS = "6_job_processor.process"  # the job function, by name: the worker imports it
JOB_DATA = {
    "phoneNumber": "4153518780",
    "message": "This is the code to verify your account",
}


def create_job(queue):
    """Kue's `queue.create('push_notification_code', data).save()`, on RQ."""
    # Kue's ids (1, 2, 3...: one counter for every queue), and one MULTI/EXEC sent once
    # even if the connection drops, where RQ's ids are random and a retried write may run twice
    with qs.save_jobs(queue, 1) as ([job_id], pipeline):
        return queue.enqueue(
            PROCESS,
            JOB_DATA,
            job_id=job_id,
            on_success=Callback(qs.EventFollower.report_success),  # RQ calls these as the job ends:
            on_failure=Callback(qs.EventFollower.report_failure),  # its follower hears, as Kue's job.on(...)
            pipeline=pipeline,
        )


def main(argv=None):
    qs.ArgumentParser(description=__doc__).parse_args(argv)  # argparse's, with --log-format and QUEUING_DEBUG
    connection = qs.wait_until_connected(qs.make_client(decode_responses=False), quiet=True)  # RQ's: bytes
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer)
    events = qs.EventFollower(connection, QUEUE)  # from before the job exists: no event missed, unlike Kue's
    job = create_job(queue)
    qs.say(f"Notification job created: {job.id}")  # one write, flushed
    for event in events.follow([job]):  # until it completed or failed
        if event.kind in ("completed", "failed"):
            qs.say(f"Notification job {event.kind}")


if __name__ == "__main__":
    qs.run(main)  # exit 0 on SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us: never a traceback
