#!/usr/bin/env python3
"""Task 10: create_push_notifications_jobs, and (run as a script) what 8-job-main.js did."""

import sys

from rq import Callback, Queue
from rq.serializers import JSONSerializer

import queuing_system as qs

QUEUE = "push_notification_code_3"
PROCESS = "7_job_processor.process"  # the job function, by name: the worker imports it
FIELDS = ("phoneNumber", "message")
# Kue's job.on(...) listeners lived as long as the process did, which RQ's jobs have
# nothing like: each call's reporter goes here. main() waits for them; a test stops them.
reporters = []


def event_line(event):  # the line printed for each event: Kue's job.on(...)
    return event.line("Notification")


def create_push_notifications_jobs(jobs, queue):
    """Create one job per dict on push_notification_code_3 (on `queue`, or on a queue of
    that name on `queue`'s connection, as Kue's job type named it). Prints each created
    id; then, while the process lives, each job's events.
    """
    if not isinstance(jobs, list):
        raise TypeError("Jobs is not an array")  # the original's words
    for index, data in enumerate(jobs):  # a bad entry refuses the batch before anything is made
        if not isinstance(data, dict) or not all(isinstance(data.get(key), str) for key in FIELDS):
            raise ValueError(f"Job {index} is not an object with a phoneNumber and a message string")
    if not jobs:
        return []
    if queue.name != QUEUE:  # Kue's queue was a connection; the job's type named its queue
        queue = Queue(QUEUE, connection=queue.connection, serializer=queue.serializer)
    # from before: no event missed; each line in one write, its untrusted text escaped
    reporter = qs.JobReporter(queue.connection, QUEUE, event_line)
    reporters.append(reporter)
    with qs.save_jobs(queue, len(jobs)) as (ids, pipeline):  # Kue's ids; one MULTI/EXEC, sent once
        calls = [
            Queue.prepare_data(
                PROCESS,
                (data,),
                job_id=job_id,
                on_success=Callback(qs.JobReporter.report_success),  # the reporter hears
                on_failure=Callback(qs.JobReporter.report_failure),  # how each job ended
            )
            for job_id, data in zip(ids, jobs, strict=True)
        ]
        created = queue.enqueue_many(calls, pipeline=pipeline)
    for job in created:
        qs.say(f"Notification job created: {job.id}")
    reporter.watch(created)
    return created


def main(argv=None):
    qs.ArgumentParser(description=__doc__).parse_args(argv)  # argparse's, with --log-format and QUEUING_DEBUG
    connection = qs.make_client(decode_responses=False)  # RQ's: bytes; the reporter waits for it to answer
    job = {"phoneNumber": "4153518780", "message": "This is the code 1234 to verify your account"}
    create_push_notifications_jobs([job], Queue(QUEUE, connection=connection, serializer=JSONSerializer))
    hint = f"rq worker --url $REDIS_URL --serializer json --worker-class rq.worker.SimpleWorker {QUEUE}"
    print(f"No processor of this exercise serves {QUEUE}; RQ's own worker can: {hint}", file=sys.stderr)
    for reporter in reporters:
        reporter.wait()


if __name__ == "__main__":
    qs.run(main)  # exit 0 on SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us: never a traceback
