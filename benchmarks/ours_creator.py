#!/usr/bin/env python3
"""Task 8's creator on our package for N jobs of the benchmark's workload: the peer of
node/kue_creator.js and node/bullmq_creator.js, with their arguments and their report.

    python benchmarks/ours_creator.py COUNT [FAILING] [create-only] [rq-calls]

Jobs have phone 41535187NN with NN = i % 100, so 2% are blacklisted (FAILING: the failing
share, 0.02 by default, 0 none, 1 all). They are saved in one batch by qs.create_jobs,
which leaves Redis as 7_job_creator.py's RQ calls leave it (`rq-calls`: by those calls),
and each event's line is printed as 7_job_creator.py prints them. Writes on stderr, as
JSON, the seconds until every job was saved and until every outcome was heard, the
outcomes heard and its CPU seconds. `create-only`: ends once
the jobs are saved. On SIGTERM (the bench gave up waiting) it writes what it heard so far,
heard: null.

The peer benchmark (original.py) calls the package here and nowhere else, through its
public surface (`queuing_system`'s `__all__`, as the scripts do): it runs this script and
7_job_processor.py, each in its own process, as it runs Kue's and BullMQ's.
"""

import json
import os
import signal
import sys
import time
from pathlib import Path

from rq import Callback, Queue
from rq.serializers import JSONSerializer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's package

import queuing_system as qs  # noqa: E402
from queuing_system import jobs  # noqa: E402

QUEUE = "push_notification_code_2"
PROCESS = "7_job_processor.process"


def workload(count, failing=0.02):
    """4153518780 and 81 are blacklisted; NN shifted so that `failing` of the jobs (0, 2%
    or 100%) have one of them. The JS creators make the same. Made as they are read (a
    generator), as a creator of many jobs reads them from a file or a query."""
    for i in range(count):
        number = 80 + i % 2 if failing == 1 else i % 80 if failing == 0 else i % 100
        message = f"This is the code {i} to verify your account"
        yield {"phoneNumber": f"41535187{number:02d}", "message": message}


def create_jobs(queue, datas, rq_calls=False):
    """The package's batch creation (jobs.create_jobs, as BullMQ's creator uses its addBulk):
    the jobs and Redis's data are those of 7_job_creator.py's RQ calls (Queue.prepare_data,
    enqueue_many in save_jobs), at once and once; `rq-calls` makes them with those."""
    if rq_calls:
        return created_by_rq_calls(queue, datas)
    return jobs.create_jobs(queue, PROCESS, datas)


def created_by_rq_calls(queue, datas):
    """As 7_job_creator.create_jobs."""
    datas = list(datas)
    with qs.save_jobs(queue, len(datas)) as (ids, pipeline):
        calls = [
            Queue.prepare_data(
                PROCESS,
                (data,),
                job_id=job_id,
                on_success=Callback(qs.EventFollower.report_success),
                on_failure=Callback(qs.EventFollower.report_failure),
            )
            for job_id, data in zip(ids, datas, strict=True)
        ]
        return queue.enqueue_many(calls, pipeline=pipeline)


def main(count, failing=0.02, create_only=False, rq_calls=False):
    started, cpu = time.perf_counter(), time.process_time()
    report = {"created": None, "heard": None, "outcomes": 0}

    def finish(*_signal):
        report["cpu"] = time.process_time() - cpu
        sys.stdout.flush()
        sys.stderr.write(json.dumps(report) + "\n")
        os._exit(0)  # from the signal handler too: no blocked read to unwind

    signal.signal(signal.SIGTERM, finish)
    connection = qs.wait_until_connected(
        qs.make_client(decode_responses=False), quiet=True
    )  # REDIS_URL's, as 7_job_creator.py connects
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer)
    # From before the jobs exist, as 7_job_creator.py: no event can be missed.
    events = None if create_only else qs.EventFollower(connection, QUEUE)
    jobs = create_jobs(queue, workload(count, failing), rq_calls)
    report["created"] = time.perf_counter() - started
    for job in jobs:
        qs.say(f"Notification job created: {job.id}")
    if events:
        for event in events.follow(jobs):
            qs.say(event.line("Notification"))
            report["outcomes"] += event.kind in ("completed", "failed")
        report["heard"] = time.perf_counter() - started
    finish()


if __name__ == "__main__":
    arguments = [argument for argument in sys.argv[1:] if argument != "rq-calls"]
    main(
        int(arguments[0]),
        float(arguments[1]) if len(arguments) > 1 else 0.02,
        arguments[2:3] == ["create-only"],
        rq_calls="rq-calls" in sys.argv[1:],
    )
