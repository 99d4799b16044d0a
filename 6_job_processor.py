#!/usr/bin/env python3
"""Task 7: send the notification of every job on push_notification_code, until stopped."""

from rq import Queue
from rq.serializers import JSONSerializer

import queuing_system as qs

QUEUE = "push_notification_code"
PROCESS = "6_job_processor.process"  # the only job function its workers run
CONCURRENCY = 1


def send_notification(phone_number, message):
    qs.say(f"Sending notification to {phone_number}, with message: {message}")  # one write: workers share it


def process(data):
    """The job function: it gets the job's data, as Kue's process callback got job.data."""
    send_notification(*qs.notification(data))  # checked, as Kue did not: anyone can write a job


def main(argv=None):
    parser = qs.ArgumentParser(description=__doc__)  # argparse's, with --log-format and QUEUING_DEBUG
    parser.add_workers_argument(CONCURRENCY)  # --workers N, as pm2 scaled the original; --metrics-port
    options = parser.parse_args(argv)
    connection = qs.make_client(decode_responses=False)  # RQ's: bytes; the pool waits for Redis
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer)
    # Kue's queue.process('push_notification_code', fn): RQ workers that run only PROCESS, in processes
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
