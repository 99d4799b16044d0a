#!/usr/bin/env python3
"""Task 10: create_push_notifications_jobs, and (run as a script) what 8-job-main.js did."""

from queuing_system.connection import connect_for_jobs
from queuing_system.console import say
from queuing_system.jobs import NOTIFICATION_FIELDS, create_jobs, job_queue
from queuing_system.reporter import JobReporter, Reporters, event_line
from queuing_system.shutdown import run

QUEUE = "push_notification_code_3"
PROCESS = "7_job_processor.process"
# The reporters of this process's calls: Kue's listeners lived as long as the process did.
# main() waits for them; a test stops them.
reporters = Reporters()


def check_jobs(jobs):
    """Refuse the whole batch before creating anything if any part of it is wrong."""
    if not isinstance(jobs, list):
        raise TypeError("Jobs is not an array")
    for index, job in enumerate(jobs):
        if not isinstance(job, dict):
            raise TypeError(f"Job {index} is not an object")
        for field in NOTIFICATION_FIELDS:
            if not isinstance(job.get(field), str):
                raise ValueError(f"Job {index} has no {field} string")


def print_event(event):
    say(event_line("Notification", event))


def create_push_notifications_jobs(jobs, queue):
    """Create one job per dict on push_notification_code_3 (on `queue`'s connection).

    Prints each created id; then, while the process lives, each job's events.
    """
    check_jobs(jobs)
    reporter = JobReporter(queue.connection, QUEUE, print_event)  # before: no event missed
    created = create_jobs(job_queue(QUEUE, queue.connection), PROCESS, jobs)
    for job in created:
        say(f"Notification job created: {job.id}")
    reporter.watch(job.id for job in created)
    reporters.append(reporter)
    return created


def main():
    connection = connect_for_jobs()
    job = {"phoneNumber": "4153518780", "message": "This is the code 1234 to verify your account"}
    create_push_notifications_jobs([job], job_queue(QUEUE, connection))
    reporters.wait()


if __name__ == "__main__":
    run(main)
