#!/usr/bin/env python3
"""Task 10: create_push_notifications_jobs, and (run as a script) what 8-job-main.js did."""

import argparse

from rq import Callback, Queue
from rq.serializers import JSONSerializer

import queuing_system as qs

QUEUE = "push_notification_code_3"
PROCESS = "7_job_processor.process"  # the job function, by name: the worker imports it
# The listeners of this process's calls: Kue's job.on(...) lived as long as the process
# did. main() waits for them; a test stops them.
listeners = qs.JobListeners()


def print_event(event):
    qs.say(qs.event_line("Notification", event))


def create_push_notifications_jobs(jobs, queue):
    """Create one job per dict on push_notification_code_3 (on `queue`'s connection).

    Prints each created id; then, while the process lives, each job's events.
    """
    if not isinstance(jobs, list):
        raise TypeError("Jobs is not an array")  # the original's words
    qs.check_notifications(jobs)  # any bad entry refuses the whole batch, before anything is made
    if not jobs:
        return []
    connection = queue.connection
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer, default_timeout=qs.JOB_TIMEOUT)
    listener = listeners.listen(connection, QUEUE, print_event)  # before: no event missed
    ids = qs.reserve_job_ids(connection, len(jobs))
    calls = [
        Queue.prepare_data(
            PROCESS,
            (data,),
            job_id=job_id,
            failure_ttl=qs.FAILURE_TTL,
            on_success=Callback(qs.report_success),
            on_failure=Callback(qs.report_failure),
        )
        for job_id, data in zip(ids, jobs, strict=True)
    ]
    with qs.saved_once(queue, ids) as pipeline:
        created = queue.enqueue_many(calls, pipeline=pipeline)
    for job in created:
        qs.say(f"Notification job created: {job.id}")
    listener.watch(created)
    return created


def main(argv=None):
    qs.add_log_arguments(argparse.ArgumentParser(description=__doc__)).parse_args(argv)
    connection = qs.connect_for_jobs()
    job = {"phoneNumber": "4153518780", "message": "This is the code 1234 to verify your account"}
    create_push_notifications_jobs([job], Queue(QUEUE, connection=connection, serializer=JSONSerializer))
    qs.inform(
        f"No processor of this exercise serves {QUEUE}; RQ's own worker can: "
        f"rq worker --url $REDIS_URL --serializer json --worker-class rq.worker.SimpleWorker {QUEUE}"
    )
    listeners.wait()


if __name__ == "__main__":
    qs.run(main)
