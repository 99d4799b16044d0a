#!/usr/bin/env python3
"""Task 8: create eleven notification jobs and report their progress, completion or failure."""

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
    # Kue's ids (one counter for every queue), and one MULTI/EXEC: all saved or none, once
    with qs.save_jobs(queue, len(JOBS)) as (ids, pipeline):
        calls = [
            Queue.prepare_data(
                PROCESS,
                (data,),
                job_id=job_id,
                retry=timing.retry(),  # RQ's Retry, from Kue's .attempts() and .backoff()
                on_success=Callback(qs.EventFollower.report_success),  # the creator hears how each
                on_failure=Callback(qs.EventFollower.report_failure),  # job ended: RQ does not tell it
            )
            for job_id, data in zip(ids, JOBS, strict=True)
        ]
        if timing.delay:
            return timing.schedule_many(queue, calls, pipeline)  # RQ's enqueue_at, for a batch
        return queue.enqueue_many(calls, pipeline=pipeline)


def main(argv=None):
    parser = qs.ArgumentParser(description=__doc__)  # argparse's, with --log-format and QUEUING_DEBUG
    parser.add_timing_arguments()  # Kue's .delay(), .attempts() and .backoff(), as options.timing
    timing = parser.parse_args(argv).timing  # none given: at once and once, as the spec runs it
    connection = qs.wait_until_connected(qs.make_client(decode_responses=False), quiet=True)  # RQ's: bytes
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer)
    events = qs.EventFollower(connection, QUEUE)  # from before the jobs exist: no event missed, unlike Kue's
    jobs = create_jobs(queue, timing)
    for job in jobs:
        qs.say(f"Notification job created: {job.id}")  # one write, flushed
    for event in events.follow(jobs):  # Kue's job.on('progress' / 'complete' / 'failed')
        qs.say(event.line("Notification"))


if __name__ == "__main__":
    qs.run(main)  # exit 0 on SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us: never a traceback
