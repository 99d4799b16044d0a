#!/usr/bin/env python3
"""Task 10: create_push_notifications_jobs, and (run as a script) what 8-job-main.js did."""

import argparse
import sys

from rq import Callback, Queue
from rq.serializers import JSONSerializer

import queuing_system as qs

QUEUE = "push_notification_code_3"
PROCESS = "7_job_processor.process"  # the job function, by name: the worker imports it
# The listeners of this process's calls: Kue's job.on(...) lived as long as the process
# did, which RQ's jobs have nothing like. main() waits for them; a test stops them.
listeners = qs.JobReporters()


def print_event(event):
    qs.say(event.line("Notification"))


def create_push_notifications_jobs(jobs, queue):
    """Create one job per dict on push_notification_code_3 (on `queue`, or on a queue of
    that name on `queue`'s connection, as Kue's job type named it). Prints each created
    id; then, while the process lives, each job's events.
    """
    if not isinstance(jobs, list):
        raise TypeError("Jobs is not an array")  # the original's words
    qs.check_notifications(jobs)  # any bad entry refuses the whole batch, before anything is made
    if not jobs:
        return []
    if queue.name != QUEUE:  # Kue's queue was a connection; the job's type named its queue
        queue = Queue(QUEUE, connection=queue.connection, serializer=queue.serializer)
    listener = listeners.listen(queue.connection, QUEUE, print_event)  # before: no event missed
    ids = qs.reserve_job_ids(queue.connection, len(jobs))  # Kue's ids: one counter for every queue
    calls = [
        Queue.prepare_data(
            PROCESS,
            (data,),
            job_id=job_id,
            on_success=Callback(qs.report_success),  # the listener hears how each ended
            on_failure=Callback(qs.report_failure),
        )
        for job_id, data in zip(ids, jobs, strict=True)
    ]
    with qs.watched_transaction(queue, ids) as pipeline:  # one MULTI/EXEC: all or none, sent once
        created = queue.enqueue_many(calls, pipeline=pipeline)
    for job in created:
        qs.say(f"Notification job created: {job.id}")
    listener.watch(created)
    return created


def main(argv=None):
    qs.add_log_arguments(argparse.ArgumentParser(description=__doc__)).parse_args(argv)
    connection = qs.wait_until_connected(qs.make_client(decode_responses=False), quiet=True)  # RQ's: bytes
    job = {"phoneNumber": "4153518780", "message": "This is the code 1234 to verify your account"}
    create_push_notifications_jobs([job], Queue(QUEUE, connection=connection, serializer=JSONSerializer))
    print(
        f"No processor of this exercise serves {QUEUE}; RQ's own worker can: "
        f"rq worker --url $REDIS_URL --serializer json --worker-class rq.worker.SimpleWorker {QUEUE}",
        file=sys.stderr,
        flush=True,
    )
    listeners.wait()


if __name__ == "__main__":
    qs.run(main)
