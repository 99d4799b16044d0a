#!/usr/bin/env python3
"""Task 6: create one notification job and wait to hear how it ended."""

import argparse

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
    [job_id] = qs.reserve_job_ids(queue.connection)  # Kue's ids (1, 2, 3...), one counter for every queue
    with qs.watched_transaction(
        queue, [job_id]
    ) as pipeline:  # one MULTI/EXEC, sent once even if the connection drops
        return queue.enqueue(
            PROCESS,
            JOB_DATA,
            job_id=job_id,
            on_success=Callback(qs.report_success),  # RQ calls them as the job ends: they tell the
            on_failure=Callback(qs.report_failure),  # creator (Kue's job.on('complete'), which RQ lacks)
            pipeline=pipeline,
        )


def main(argv=None):
    qs.add_log_arguments(argparse.ArgumentParser(description=__doc__)).parse_args(argv)
    connection = qs.wait_until_connected(qs.make_client(decode_responses=False), quiet=True)  # RQ's: bytes
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer)
    events = qs.EventFollower(connection, QUEUE)  # from before the job exists: no event missed, unlike Kue's
    job = create_job(queue)
    qs.say(f"Notification job created: {job.id}")
    for event in events.follow([job]):  # until it completed or failed
        if event.kind in ("completed", "failed"):
            qs.say(f"Notification job {event.kind}")


if __name__ == "__main__":
    qs.run(main)
