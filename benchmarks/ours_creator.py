#!/usr/bin/env python3
"""Task 8's creator on our package for N jobs of the benchmark's workload: the peer of
node/kue_creator.js and node/bullmq_creator.js, with their arguments and their report.

    python benchmarks/ours_creator.py COUNT [FAILING] [create-only]

Jobs have phone 41535187NN with NN = i % 100, so 2% are blacklisted (FAILING: the failing
share, 0.02 by default, 0 none, 1 all). They are saved in one batch, as 7_job_creator.py
saves its eleven, and each event's line is printed as it prints them. Writes on stderr, as
JSON, the seconds until every job was saved and until every outcome was heard, the
outcomes heard and its CPU seconds. `create-only`: ends once the jobs are saved. On
SIGTERM (the bench gave up waiting) it writes what it heard so far, heard: null.

The peer benchmark (original.py) calls the package here and nowhere else: it runs this
script and 7_job_processor.py, each in its own process, as it runs Kue's and BullMQ's.
"""

import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's package

from queuing_system.connection import make_jobs_client  # noqa: E402
from queuing_system.events import OUTCOMES  # noqa: E402
from queuing_system.follower import EventFollower  # noqa: E402
from queuing_system.jobs import create_jobs, job_queue  # noqa: E402
from queuing_system.reporter import event_line  # noqa: E402

QUEUE = "push_notification_code_2"
PROCESS = "7_job_processor.process"


def workload(count, failing=0.02):
    """4153518780 and 81 are blacklisted; NN shifted so that `failing` of the jobs (0, 2%
    or 100%) have one of them. The JS creators make the same."""
    if failing == 1:
        numbers = [80 + i % 2 for i in range(count)]
    elif failing == 0:
        numbers = [i % 80 for i in range(count)]
    else:
        numbers = [i % 100 for i in range(count)]
    return [
        {"phoneNumber": f"41535187{number:02d}", "message": f"This is the code {i} to verify your account"}
        for i, number in enumerate(numbers)
    ]


def main(count, failing=0.02, create_only=False):
    started, cpu = time.perf_counter(), time.process_time()
    report = {"created": None, "heard": None, "outcomes": 0}

    def finish(*_signal):
        report["cpu"] = time.process_time() - cpu
        sys.stdout.flush()
        sys.stderr.write(json.dumps(report) + "\n")
        os._exit(0)  # from the signal handler too: no blocked read to unwind

    signal.signal(signal.SIGTERM, finish)
    connection = make_jobs_client()  # REDIS_URL's, as the job scripts make theirs
    # Made before the jobs exist, as 7_job_creator.py does: no event can be missed.
    follower = None if create_only else EventFollower(connection, QUEUE)
    jobs = create_jobs(job_queue(QUEUE, connection), PROCESS, workload(count, failing))
    report["created"] = time.perf_counter() - started
    for job in jobs:
        print(f"Notification job created: {job.id}")
    if follower:
        for event in follower.follow(job.id for job in jobs):
            print(event_line("Notification", event))
            report["outcomes"] += event.kind in OUTCOMES
        report["heard"] = time.perf_counter() - started
    finish()


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main(
        int(arguments[0]),
        float(arguments[1]) if len(arguments) > 1 else 0.02,
        arguments[2:3] == ["create-only"],
    )
