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


def create_job(queue, timing):
    """Kue's `queue.create('push_notification_code', data).save()`, on RQ."""
    [job_id] = qs.reserve_job_ids(queue.connection)  # Kue's ids: 1, 2, 3... for every queue
    options = dict(
        job_id=job_id,
        on_success=Callback(qs.report_success),  # RQ calls them when the job ends: the
        on_failure=Callback(qs.report_failure),  # creator hears it (Kue's job.on('complete'))
        failure_ttl=qs.FAILURE_TTL,
        retry=timing.retry(),
    )
    with qs.saved_once(queue, [job_id]) as pipeline:  # sent once, even if the connection drops
        if timing.delay:
            return queue.enqueue_at(timing.due(), PROCESS, JOB_DATA, pipeline=pipeline, **options)
        return queue.enqueue(PROCESS, JOB_DATA, pipeline=pipeline, **options)


def main(argv=None):
    parser = qs.add_timing_arguments(argparse.ArgumentParser(description=__doc__))
    timing = qs.Timing.of(parser.parse_args(argv))  # none given: at once and once, as the spec runs it
    connection = qs.connect_for_jobs()
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer, default_timeout=qs.JOB_TIMEOUT)
    events = qs.JobEvents(connection, QUEUE)  # from before the job exists: no event can be missed
    job = create_job(queue, timing)
    qs.say(f"Notification job created: {job.id}")
    for event in events.follow([job]):
        if event.kind == qs.COMPLETED:
            qs.say("Notification job completed")
        elif event.kind == qs.FAILED:
            qs.say("Notification job failed")
        elif event.kind == qs.RETRYING:
            qs.say(f"Notification job failed, {qs.retry_words(event)}")


if __name__ == "__main__":
    qs.run(main)
