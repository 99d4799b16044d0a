#!/usr/bin/env python3
"""Task 9: process push_notification_code_2 two jobs at a time, failing blacklisted numbers."""

from rq import Queue, get_current_job
from rq.serializers import JSONSerializer

import queuing_system as qs

QUEUE = "push_notification_code_2"
PROCESS = "7_job_processor.process"  # the only job function its workers run
CONCURRENCY = 2
BLACKLISTED_NUMBERS = {"4153518780", "4153518781"}


def send_notification(phone_number, message, job):
    job.meta["progress"] = 0  # RQ keeps it with the job: rq info and dashboards show it
    qs.report_progress(job)  # Kue's job.progress(0, 100): saved (RQ's save_meta), and the creator hears it
    if phone_number in BLACKLISTED_NUMBERS:
        raise qs.JobFailed(f"Phone number {phone_number} is blacklisted")  # Kue's done(new Error(...))
    job.meta["progress"] = 50
    qs.report_progress(job)
    qs.say(f"Sending notification to {phone_number}, with message: {message}")  # one write: workers share it


def process(data):
    """The job function: it gets the job's data, as Kue's process callback got job.data."""
    send_notification(*qs.notification(data), get_current_job())  # checked: anyone can write a job


def main(argv=None):
    parser = qs.ArgumentParser(description=__doc__)  # argparse's, with --log-format and QUEUING_DEBUG
    parser.add_workers_argument(CONCURRENCY)  # --workers N, as pm2 scaled the original; --metrics-port
    options = parser.parse_args(argv)
    connection = qs.make_client(decode_responses=False)  # RQ's: bytes; the pool waits for Redis
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer)
    # Kue's queue.process('push_notification_code_2', 2, fn): RQ workers that run only PROCESS, two at a time
    pool = qs.WorkerPool(
        [queue],
        connection=connection,
        num_workers=options.workers,
        job_functions=[PROCESS],
        metrics_port=options.metrics_port,  # Prometheus metrics, if asked (--metrics-port)
    )
    return pool.start()  # until Ctrl-C or SIGTERM; the jobs left stay queued


if __name__ == "__main__":
    qs.run(main)  # exit 0 on SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us: never a traceback
