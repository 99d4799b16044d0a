#!/usr/bin/env python3
"""Task 6: create one notification job and wait to hear how it ended."""

from queuing_system.connection import connect_for_jobs
from queuing_system.console import say
from queuing_system.events import COMPLETED, FAILED, RETRYING
from queuing_system.follower import EventFollower
from queuing_system.jobs import create_job, job_queue, timing_options
from queuing_system.reporter import retry_words
from queuing_system.shutdown import run

QUEUE = "push_notification_code"
PROCESS = "6_job_processor.process"
JOB_DATA = {
    "phoneNumber": "4153518780",
    "message": "This is the code to verify your account",
}


def main(argv=None):
    timing = timing_options(__doc__, argv)  # none given: at once and once, as the spec runs it
    connection = connect_for_jobs()
    events = EventFollower(connection, QUEUE)  # before the job exists: no event can be missed
    job = create_job(job_queue(QUEUE, connection), PROCESS, JOB_DATA, timing)
    say(f"Notification job created: {job.id}")
    for event in events.follow([job.id]):
        if event.kind == COMPLETED:
            say("Notification job completed")
        elif event.kind == FAILED:
            say("Notification job failed")
        elif event.kind == RETRYING:
            say(f"Notification job failed, {retry_words(event)}")


if __name__ == "__main__":
    run(main)
