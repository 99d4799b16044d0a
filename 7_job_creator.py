#!/usr/bin/env python3
"""Task 8: create eleven notification jobs and report their progress, completion or failure."""

from queuing_system.connection import connect_for_jobs
from queuing_system.console import say
from queuing_system.follower import EventFollower
from queuing_system.jobs import create_jobs, job_queue, timing_options
from queuing_system.reporter import event_line
from queuing_system.shutdown import run

QUEUE = "push_notification_code_2"
PROCESS = "7_job_processor.process"
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


def main(argv=None):
    timing = timing_options(__doc__, argv)  # none given: at once and once, as the spec runs it
    connection = connect_for_jobs()
    events = EventFollower(connection, QUEUE)  # before the jobs exist: no event can be missed
    jobs = create_jobs(job_queue(QUEUE, connection), PROCESS, JOBS, timing)
    for job in jobs:
        say(f"Notification job created: {job.id}")
    for event in events.follow(job.id for job in jobs):
        say(event_line("Notification", event))


if __name__ == "__main__":
    run(main)
