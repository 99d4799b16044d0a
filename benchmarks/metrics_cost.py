#!/usr/bin/env python3
"""What the Prometheus metrics cost a processor (issue 36: at most 3% when on, 0 when off).

instructions  a worker draining N1, then N2 queued jobs of the peer workload, metrics off,
              then on (prometheus_client's multiprocess mode, as a processor counts):
              the difference per job, under valgrind's cachegrind (load-independent)
throughput    7_job_processor.py --workers 2 draining N queued jobs, without and with
              --metrics-port, in interleaved pairs (off/on, then on/off...): jobs per
              second of each, and each pair's ratio, so that a neighbour's load falls
              on both sides of a pair

  python benchmarks/metrics_cost.py                      # both
  python benchmarks/metrics_cost.py throughput --jobs 20000 --pairs 6
"""

import argparse
import contextlib
import io
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import redis  # noqa: E402
from instructions import counted as instructions_of  # noqa: E402
from ours_creator import PROCESS, QUEUE, workload  # noqa: E402

from queuing_system.grader.redis_server import RedisServer, free_port  # noqa: E402
from queuing_system.jobs import create_jobs, job_queue  # noqa: E402


def counted(url, metrics_on):
    return instructions_of(url, "on" if metrics_on else "off", script=__file__)


def child(url, metrics_on):
    """Drain the queue in this process, as one of a processor's workers does."""
    from queuing_system.connection import make_client
    from queuing_system.worker.pool import make_worker

    options = {}
    if metrics_on == "on":
        os.environ["QUEUING_METRICS_DIR"] = tempfile.mkdtemp(prefix="metrics-cost-")
        from queuing_system.metrics import worker_metrics

        options["metrics"] = worker_metrics()
    with contextlib.redirect_stdout(io.StringIO()):  # the jobs' lines
        make_worker({QUEUE: PROCESS}, make_client(url, decode_responses=False), **options).work(burst=True)


def instructions(url, sizes):
    client = redis.Redis.from_url(url)
    per_job = {}
    for metrics_on in (False, True):
        counts = []
        for size in sizes:
            client.flushall()
            create_jobs(job_queue(QUEUE, client), PROCESS, workload(size))
            counts.append(counted(url, metrics_on))
        per_job[metrics_on] = (counts[1] - counts[0]) / (sizes[1] - sizes[0])
    off, on = per_job[False], per_job[True]
    print(f"  instructions per job: off {off:,.0f}, on {on:,.0f}: +{on - off:,.0f} (+{(on - off) / off:.1%})")


def drained_in(url, jobs, metrics_on):
    """Seconds for a processor of 2 workers to drain `jobs` queued jobs."""
    client = redis.Redis.from_url(url)
    client.flushall()
    create_jobs(job_queue(QUEUE, client), PROCESS, workload(jobs))
    args = ["--workers", "2", *(["--metrics-port", str(free_port())] if metrics_on else [])]
    env = dict(os.environ, REDIS_URL=url, QUEUING_LOG_FORMAT="plain")
    started = time.monotonic()
    processor = subprocess.Popen(
        [sys.executable, "7_job_processor.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while client.llen(f"rq:queue:{QUEUE}") or client.zcard(f"rq:wip:{QUEUE}"):
            time.sleep(0.01)
        took = time.monotonic() - started
    finally:
        processor.send_signal(signal.SIGTERM)
        processor.wait(10)
    return took


def throughput(url, jobs, pairs):
    ratios, rates = [], {False: [], True: []}
    for pair in range(pairs):
        order = (False, True) if pair % 2 == 0 else (True, False)
        took = {metrics_on: drained_in(url, jobs, metrics_on) for metrics_on in order}
        for metrics_on in order:
            rates[metrics_on].append(jobs / took[metrics_on])
        ratios.append(took[False] / took[True])  # on's throughput over off's
        print(
            f"  pair {pair + 1}: off {jobs / took[False]:,.0f} jobs/s, on {jobs / took[True]:,.0f} jobs/s, "
            f"on/off {ratios[-1]:.3f}",
            flush=True,
        )
    median = statistics.median(ratios)
    print(
        f"  throughput, median of {pairs} pairs: off {statistics.median(rates[False]):,.0f} jobs/s, "
        f"on {statistics.median(rates[True]):,.0f} jobs/s, on/off {median:.3f} ({1 - median:+.1%} cost)"
    )


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(*sys.argv[2:])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workloads", nargs="*", default=["instructions", "throughput"])
    parser.add_argument("--sizes", default="100,400", help="instructions: the two queue sizes")
    parser.add_argument("--jobs", type=int, default=10000, help="throughput: jobs drained per run")
    parser.add_argument("--pairs", type=int, default=6, help="throughput: interleaved off/on pairs")
    args = parser.parse_args()
    with RedisServer() as server:
        if "instructions" in args.workloads:
            if shutil.which("valgrind") is None:
                print("instructions: skipped, valgrind not found (apt-get install valgrind)")
            else:
                instructions(server.url, [int(size) for size in args.sizes.split(",")])
        if "throughput" in args.workloads:
            throughput(server.url, args.jobs, args.pairs)
    return None


if __name__ == "__main__":
    sys.exit(main())
