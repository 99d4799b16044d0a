#!/usr/bin/env python3
"""Task 7: send the notification of every job on push_notification_code, until stopped."""

from queuing_system.console import say
from queuing_system.jobs import notification
from queuing_system.shutdown import run
from queuing_system.supervisor import run_workers, worker_count

QUEUE = "push_notification_code"
JOB_FUNCTIONS = {QUEUE: "6_job_processor.process"}  # the only job its workers run
CONCURRENCY = 1


def send_notification(phone_number, message):
    say(f"Sending notification to {phone_number}, with message: {message}")


def process(data):
    """The job function: it gets the job's data, as Kue's process callback got job.data."""
    send_notification(*notification(data))


def main():
    return run_workers(JOB_FUNCTIONS, count=worker_count(default=CONCURRENCY))


if __name__ == "__main__":
    run(main)
