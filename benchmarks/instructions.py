#!/usr/bin/env python3
"""Instructions per job, counted by valgrind's cachegrind: the figure that does not move
with the machine's neighbours, to compare two commits (time on a shared host swings 2x).

  worker    one worker draining N1, then N2 queued jobs of the peer workload (bench.py
            peer), all succeeding, then all failing: the difference per job, so start-up
            and shutdown cancel out
  creation  N1, then N2 jobs created in one batch (create_jobs): the difference per job

Each count is of a child process run under `valgrind --tool=cachegrind`, on its own Redis.

    python benchmarks/instructions.py               # needs valgrind (apt-get install valgrind)
    python benchmarks/instructions.py worker --jobs 100,400
"""

import argparse
import contextlib
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import redis  # noqa: E402
from ours_creator import PROCESS, QUEUE, workload  # noqa: E402

from queuing_system.connection import make_client  # noqa: E402
from queuing_system.grader.redis_server import RedisServer  # noqa: E402
from queuing_system.jobs import create_jobs, job_queue  # noqa: E402
from queuing_system.worker.pool import drain  # noqa: E402

INSTRUCTIONS = re.compile(r"I\s+refs:\s+([\d,]+)")


def counted(*child_args, script=__file__):
    """Instructions of `script` (by default this one) run as a child with `--child` and
    `child_args`, under cachegrind."""
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    done = subprocess.run(
        [*command, sys.executable, script, "--child", *child_args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return int(INSTRUCTIONS.search(done.stderr).group(1).replace(",", ""))


def per_job(sizes, count):
    """The difference of `count(size)` between the two sizes, per job."""
    small, large = sizes
    return (count(large) - count(small)) / (large - small)


def worker_instructions(url, sizes, failing):
    client = redis.Redis.from_url(url)

    def count(size):
        client.flushall()
        create_jobs(job_queue(QUEUE, client), PROCESS, workload(size, failing))
        return counted("drain", url)

    return per_job(sizes, count)


def creation_instructions(url, sizes):
    client = redis.Redis.from_url(url)

    def count(size):
        client.flushall()
        return counted("create", url, str(size))

    return per_job(sizes, count)


def child(mode, url, size=None):
    connection = make_client(url, decode_responses=False)
    if mode == "drain":
        with contextlib.redirect_stdout(io.StringIO()):  # the jobs' lines
            drain({QUEUE: PROCESS}, connection)
    else:
        create_jobs(job_queue(QUEUE, connection), PROCESS, workload(int(size)))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(*sys.argv[2:])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workloads", nargs="*", default=["worker", "creation"])
    parser.add_argument("--jobs", default="100,400", help="worker: the two queue sizes")
    parser.add_argument("--created", default="200,2200", help="creation: the two batch sizes")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("instructions: skipped, valgrind not found (apt-get install valgrind)")
        return None
    with RedisServer() as server:
        if "worker" in args.workloads:
            sizes = [int(size) for size in args.jobs.split(",")]
            for failing, name in ((0, "succeeding"), (1, "failing")):
                figure = worker_instructions(server.url, sizes, failing)
                print(f"  worker    {figure:,.0f} instructions per job, all {name}", flush=True)
        if "creation" in args.workloads:
            sizes = [int(size) for size in args.created.split(",")]
            figure = creation_instructions(server.url, sizes)
            print(f"  creation  {figure:,.0f} instructions per job created", flush=True)
    return None


if __name__ == "__main__":
    sys.exit(main())
