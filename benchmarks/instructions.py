#!/usr/bin/env python3
"""Instructions per job, counted by valgrind's cachegrind: the figure that does not move
with the machine's neighbours, to compare two commits (time on a shared host swings 2x),
and ours with BullMQ's (bench.py peer's workload and processes).

  worker    one worker draining N1, then N2 queued jobs of the peer workload (bench.py
            peer), all succeeding, all failing, then 2% failing as in the peer run: the
            difference per job, so start-up and shutdown cancel out; with --peers bullmq,
            BullMQ's processor (node bullmq_processor.js, concurrency 2) on the 2% too
  redis     redis-server itself while a system runs the peer workload end to end (its
            processor, then its creator creating N1, then N2 jobs and hearing every
            outcome): every command of the creator, the workers and the event reading,
            the difference per job; ours, then each of --peers
  creation  N1, then N2 jobs created in one batch (create_jobs): the difference per job

Each count is of a process run under `valgrind --tool=cachegrind` (a child, or the
processor or redis-server under it), each on its own Redis. Instructions leave out the
kernel: a system that makes more round trips per job (BullMQ makes 5 to Redis, ours 1)
spends more beside them in system calls.

    python benchmarks/instructions.py                    # needs valgrind (apt-get install valgrind)
    python benchmarks/instructions.py worker --jobs 200,1400
    python benchmarks/instructions.py redis --peers bullmq --e2e 500,2500
"""

import argparse
import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import redis  # noqa: E402
from measures import start, stop  # noqa: E402
from original import SYSTEMS, installed, run_creator  # noqa: E402
from ours_creator import PROCESS, QUEUE, workload  # noqa: E402

from queuing_system.connection import make_client  # noqa: E402
from queuing_system.grader.harness import wait_for  # noqa: E402
from queuing_system.grader.redis_server import RedisServer, free_port, server_executable  # noqa: E402
from queuing_system.jobs import create_jobs, job_queue  # noqa: E402
from queuing_system.worker.pool import drain  # noqa: E402

INSTRUCTIONS = re.compile(r"I\s+refs:\s+([\d,]+)")
VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
# Node compiles code into its heap as it runs: valgrind must look for code written there.
VALGRIND_NODE = [*VALGRIND, "--smc-check=all-non-file"]
SLOW = 120  # seconds: anything under valgrind runs 20-50x slower
PEER_FAILING = 0.02  # bench.py peer's workload: 2% of the jobs fail


def instructions_of(stderr):
    return int(INSTRUCTIONS.search(stderr).group(1).replace(",", ""))


def counted(*child_args, script=__file__):
    """Instructions of `script` (by default this one) run as a child with `--child` and
    `child_args`, under cachegrind."""
    done = subprocess.run(
        [*VALGRIND, sys.executable, script, "--child", *child_args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return instructions_of(done.stderr)


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


def peer_worker_instructions(system, url, sizes, failing):
    """A peer's processor (started under cachegrind, waiting for jobs) draining what its
    creator queues, then stopped."""
    client = redis.Redis.from_url(url)

    def count(size):
        client.flushall()
        with tempfile.TemporaryFile("w+") as stderr:
            processor = subprocess.Popen(
                [*VALGRIND_NODE, *system.processor],
                cwd=system.cwd,
                env={**os.environ, "REDIS_URL": url},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            try:
                wait_for(lambda: system.waiting(client), timeout=SLOW)
                run_creator(system, client, url, size, failing, create_only=True)
                wait_for(lambda: system.ended(client) >= size, timeout=SLOW + size / 10, interval=0.1)
            finally:
                processor.send_signal(signal.SIGTERM)
                processor.wait(SLOW)
            stderr.seek(0)
            return instructions_of(stderr.read())

    return per_job(sizes, count)


def redis_instructions(system, sizes):
    """redis-server's instructions per job while `system` runs the peer workload end to
    end: its processor started, then its creator run to its end (every outcome heard)."""

    def count(size):
        port, directory = free_port(), tempfile.mkdtemp(prefix="redis-")
        command = [server_executable(), "--port", str(port), "--bind", "127.0.0.1", "--dir", directory]
        command += ["--save", "", "--appendonly", "no"]
        url = f"redis://127.0.0.1:{port}/0"
        with tempfile.TemporaryFile("w+") as stderr:
            server = subprocess.Popen([*VALGRIND, *command], stdout=subprocess.DEVNULL, stderr=stderr)
            try:
                client = redis.Redis.from_url(url)
                wait_for(lambda: answers(client), timeout=SLOW, interval=0.1)
                processor = start(system.processor, url, system.cwd)
                try:
                    wait_for(lambda: system.waiting(client), timeout=SLOW)
                    report, _said = run_creator(system, client, url, size, PEER_FAILING)
                finally:
                    stop(processor)
                if report["outcomes"] != size:
                    raise RuntimeError(f"{system.name}: heard {report['outcomes']} outcomes of {size}")
                with contextlib.suppress(redis.ConnectionError):
                    client.shutdown(nosave=True)
                server.wait(SLOW)
            finally:
                if server.poll() is None:
                    server.kill()
                shutil.rmtree(directory, ignore_errors=True)
            stderr.seek(0)
            return instructions_of(stderr.read())

    return per_job(sizes, count)


def answers(client):
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


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


def sizes_of(text):
    return [int(size) for size in text.split(",")]


def say(workload, system, figure, what, ours=None):
    compared = f"  -> ours {ours / figure:.2f}x" if ours else ""
    print(f"  {workload:<9} {system:<7} {figure:>10,.0f} instructions per job, {what}{compared}", flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(*sys.argv[2:])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workloads", nargs="*", default=["worker", "redis", "creation"])
    parser.add_argument("--jobs", default="200,1400", help="worker: the two queue sizes")
    parser.add_argument("--e2e", default="500,2500", help="redis: the two numbers of jobs run end to end")
    parser.add_argument("--created", default="200,2200", help="creation: the two batch sizes")
    parser.add_argument("--peers", default="bullmq", help="bullmq, or '' for ours alone")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("instructions: skipped, valgrind not found (apt-get install valgrind)")
        return None
    peers = [SYSTEMS[name] for name in args.peers.split(",") if name]
    if peers and not installed():
        peers = []
    with RedisServer() as server:
        if "worker" in args.workloads:
            sizes = sizes_of(args.jobs)
            for failing, what in ((0, "all succeeding"), (1, "all failing")):
                say("worker", "ours", worker_instructions(server.url, sizes, failing), what)
            what = f"{PEER_FAILING:.0%} failing (the peer workload)"
            ours = worker_instructions(server.url, sizes, PEER_FAILING)
            say("worker", "ours", ours, what)
            for peer in peers:
                figure = peer_worker_instructions(peer, server.url, sizes, PEER_FAILING)
                say("worker", peer.name, figure, what, ours)
        if "creation" in args.workloads:
            figure = creation_instructions(server.url, sizes_of(args.created))
            say("creation", "ours", figure, "created by create_jobs")
    if "redis" in args.workloads:
        sizes, what = sizes_of(args.e2e), "in redis-server, end to end (the peer workload)"
        ours = redis_instructions(SYSTEMS["ours"], sizes)
        say("redis", "ours", ours, what)
        for peer in peers:
            say("redis", peer.name, redis_instructions(peer, sizes), what, ours)
    return None


if __name__ == "__main__":
    sys.exit(main())
