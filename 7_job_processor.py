#!/usr/bin/env python3
"""Task 9: process push_notification_code_2 two jobs at a time, failing blacklisted numbers."""

from rq import get_current_job

from queuing_system.callbacks import report_progress
from queuing_system.console import say
from queuing_system.jobs import JobFailed, notification
from queuing_system.shutdown import run
from queuing_system.supervisor import run_workers, worker_count

QUEUE = "push_notification_code_2"
JOB_FUNCTIONS = {QUEUE: "7_job_processor.process"}  # the only job its workers run
CONCURRENCY = 2
BLACKLISTED_NUMBERS = {"4153518780", "4153518781"}


def send_notification(phone_number, message, job):
    report_progress(job, 0)
    if phone_number in BLACKLISTED_NUMBERS:
        raise JobFailed(f"Phone number {phone_number} is blacklisted")
    report_progress(job, 50)
    say(f"Sending notification to {phone_number}, with message: {message}")


def process(data):
    """The job function: it gets the job's data, as Kue's process callback got job.data."""
    send_notification(*notification(data), get_current_job())


def main():
    return run_workers(JOB_FUNCTIONS, count=worker_count(default=CONCURRENCY))


if __name__ == "__main__":
    run(main)
