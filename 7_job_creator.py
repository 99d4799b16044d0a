#!/usr/bin/env python3
"""Task 8: create eleven notification jobs and report their progress, completion or failure."""

import argparse

from rq import Callback, Queue
from rq.serializers import JSONSerializer

import queuing_system as qs

QUEUE = "push_notification_code_2"
PROCESS = "7_job_processor.process"  # the job function, by name: the worker imports it
JOBS = [
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


def create_jobs(queue, timing):
    """Kue's `queue.create(...).save()` for each object, as one batch of RQ jobs."""
    ids = qs.reserve_job_ids(queue.connection, len(JOBS))  # Kue's ids: one counter for every queue
    calls = [
        Queue.prepare_data(
            PROCESS,
            (data,),
            job_id=job_id,
            retry=timing.retry(),  # RQ's Retry, from Kue's .attempts() and .backoff()
            on_success=Callback(qs.report_success),  # the creator hears how each job ended,
            on_failure=Callback(qs.report_failure),  # which RQ alone does not tell it
        )
        for job_id, data in zip(ids, JOBS, strict=True)
    ]
    with qs.watched_transaction(queue, ids) as pipeline:  # one MULTI/EXEC: all or none, sent once
        if timing.delay:
            return timing.schedule_many(queue, calls, pipeline)  # RQ's enqueue_at, for a batch
        return queue.enqueue_many(calls, pipeline=pipeline)


def main(argv=None):
    parser = qs.Timing.add_arguments(argparse.ArgumentParser(description=__doc__))  # Kue's .delay()...
    timing = qs.Timing.of(parser.parse_args(argv))  # none given: at once and once, as the spec runs it
    connection = qs.wait_until_connected(qs.make_client(decode_responses=False), quiet=True)  # RQ's: bytes
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer)
    events = qs.EventFollower(connection, QUEUE)  # from before the jobs exist: no event missed, unlike Kue's
    jobs = create_jobs(queue, timing)
    for job in jobs:
        qs.say(f"Notification job created: {job.id}")
    for event in events.follow(jobs):  # Kue's job.on('progress' / 'complete' / 'failed')
        qs.say(event.line("Notification"))


if __name__ == "__main__":
    qs.run(main)
