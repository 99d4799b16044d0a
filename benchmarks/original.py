"""The original stack as the benchmark's peer: Kue 0.11 and Express 4 on Node (benchmarks/node/).

The system users would pick instead of ours is the one this project ports. Both run on the
same Redis, in the same run, on the same workload, and `bench.py peer` prints ours, the
peer and the ratio:

  e2e       N notification jobs with phone 41535187NN, NN = i % 100 (2% blacklisted, so
            they fail), created, processed two at a time, every outcome heard by the
            creator: jobs/s
  creation  the same N jobs saved, nothing processing them: jobs/s
  failure   what a failing job costs against a succeeding one: workers' CPU per job
            draining 2,000 queued jobs that all fail, against 2,000 that all succeed, in
            pairs (ours, then Kue's)
  http      the stock app under wrk: req/s, p99 and the oversell count (the original
            reads the stock, then writes it back: it oversells; ours must not)

The peer is installed with `npm ci` from benchmarks/node/package-lock.json on first use;
where `node` or `npm` is missing, it is skipped with one line.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from bench import (
    ROOT,
    Run,
    bench_http,
    children,
    cpu_seconds,
    ended,
    fresh,
    ours_end_to_end,
    report,
    start,
    stock_servers,
    stop,
    wait_for,
)
from rq import Worker

from queuing_system.connection import make_jobs_client  # noqa: E402 - bench puts the root on sys.path
from queuing_system.jobs import create_jobs, job_queue  # noqa: E402

NODE = ROOT / "benchmarks" / "node"
QUEUE = "push_notification_code_2"
PROCESS = "7_job_processor.process"
CREATION_TURNS = 3  # turns of creation per --repeat
# Pairs of drains (failing, succeeding) per --repeat, of so many jobs each: short drains
# taken close together meet the same pace of the machine.
FAILURE_PAIRS, FAILURE_JOBS = 4, 2000
KUE_COMPLETE, KUE_FAILED = "q:jobs:complete", "q:jobs:failed"  # Kue's sets of jobs by state


def workload(count, failing=0.02):
    """The jobs of the comparison: phone 41535187NN, NN = i % 100 (4153518780 and 81 are
    blacklisted), shifted so that `failing` of them (0, 2% or 100%) are."""
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


def installed():
    """Whether the peer can run here: node and npm found, its packages installed (npm ci,
    from the lock file, once)."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        print(f"  peer      skipped: {' and '.join(missing)} not found (the original stack runs on Node)")
        return False
    if not (NODE / "node_modules").is_dir():
        print("  peer      npm ci (benchmarks/node/package-lock.json)", flush=True)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE, check=True, stdout=subprocess.DEVNULL
        )
    return True


def blocked_clients(client, command):
    return sum(1 for each in client.client_list() if each.get("cmd") == command)


def kue_end_to_end(client, url, count, failing=0.02):
    """The same run on Kue: its processor (two at a time) and its creator, as the original
    wrote them. The creator is told the jobs' mix through KUE_FAILING."""
    processor = start(["node", "kue_processor.js"], url, NODE)
    try:
        wait_for(lambda: blocked_clients(client, "blpop") >= 1, timeout=30)  # waiting for jobs
        server = client.info()["process_id"]
        before = [cpu_seconds(processor.pid), cpu_seconds(server)]
        creator = subprocess.Popen(
            ["node", "kue_creator.js", str(count)],
            cwd=NODE,
            env={**os.environ, "REDIS_URL": url, "KUE_FAILING": str(failing)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        _pid, status, usage = os.wait4(creator.pid, 0)
        creator.returncode = os.waitstatus_to_exitcode(status)
        after = [cpu_seconds(processor.pid), cpu_seconds(server)]
        said = creator.stderr.read()
        assert creator.returncode == 0, said
        times = json.loads(said.strip().splitlines()[-1])
    finally:
        stop(processor)
    used = [end - begin for begin, end in zip(before, after, strict=True)] + [usage.ru_utime + usage.ru_stime]
    return Run(times["created"], times["heard"], tuple(1e6 * seconds / count for seconds in used))


def bench_peer_e2e(client, url, count, repeat):
    runs = {"ours": [], "kue": []}
    for _ in range(repeat):
        for name, measure in (("ours", ours_run), ("kue", kue_end_to_end)):
            fresh(client)
            run = measure(client, url, count)
            print(f"  e2e       {name:<8} {count / run.heard:6,.0f} jobs/s; {run.cpu_line()}", flush=True)
            runs[name].append(count / run.heard)
    report("e2e", runs["ours"], runs["kue"], "jobs/s", label="kue")


def ours_creation(client, url, count):
    """Seconds to save `count` jobs of the workload, nothing processing them, on a client
    made as the job scripts make theirs."""
    creator = make_jobs_client(url)
    started = time.perf_counter()
    create_jobs(job_queue(QUEUE, creator), PROCESS, workload(count))
    elapsed = time.perf_counter() - started
    creator.close()
    return elapsed


def kue_creation(client, url, count):
    creator = subprocess.run(
        ["node", "kue_creator.js", str(count)],
        cwd=NODE,
        env={**os.environ, "REDIS_URL": url, "KUE_CREATE_ONLY": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(creator.stderr.strip().splitlines()[-1])["created"]


def bench_creation(client, url, count, repeat):
    """Creation alone: `count` jobs saved, nothing processing them (in e2e, the workers
    take the CPU the creator would use). A turn takes a second or two: CREATION_TURNS
    times as many turns, for a steadier median."""
    rates = {"ours": [], "kue": []}
    for _ in range(CREATION_TURNS * repeat):
        for name, measure in (("ours", ours_creation), ("kue", kue_creation)):
            fresh(client)
            rates[name].append(count / measure(client, url, count))
    report("creation", rates["ours"], rates["kue"], "jobs/s", label="kue")


def ours_run(client, url, count, failing=0.02):
    return ours_end_to_end(client, url, workload(count, failing))


def ours_drain(client, url, count, failing):
    """Workers' CPU per job (us) while 7_job_processor.py's two workers drain `count` jobs
    of the workload, queued at once (one batch) once they wait: nothing else runs but Redis."""
    processor = start([sys.executable, "7_job_processor.py"], url)
    try:
        wait_for(lambda: len(Worker.all(connection=client)) == 2, timeout=30)
        workers = children(processor.pid)
        before = sum(map(cpu_seconds, workers))
        queue = job_queue(QUEUE, client)
        create_jobs(queue, PROCESS, workload(count, failing))
        wait_for(lambda: ended(queue) == count, timeout=3600, interval=0.1)
        used = sum(map(cpu_seconds, workers)) - before
    finally:
        stop(processor)
    return 1e6 * used / count


def kue_drain(client, url, count, failing):
    """The same on Kue: its processor's CPU per job (us) from when it waits until every job
    created by its creator (which then ends) is complete or failed."""
    processor = start(["node", "kue_processor.js"], url, NODE)
    try:
        wait_for(lambda: blocked_clients(client, "blpop") >= 1, timeout=30)
        before = cpu_seconds(processor.pid)
        subprocess.run(
            ["node", "kue_creator.js", str(count)],
            cwd=NODE,
            env={**os.environ, "REDIS_URL": url, "KUE_CREATE_ONLY": "1", "KUE_FAILING": str(failing)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        wait_for(
            lambda: client.zcard(KUE_COMPLETE) + client.zcard(KUE_FAILED) == count, timeout=3600, interval=0.1
        )
        used = cpu_seconds(processor.pid) - before
    finally:
        stop(processor)
    return 1e6 * used / count


def bench_failure_cost(client, url, count, repeat):
    """Workers' CPU per job draining jobs that all fail, against jobs that all succeed: a
    job's own cost, measured with nothing else running (in e2e, the creator and its
    follower share the cores). In pairs of FAILURE_JOBS jobs each, one run of each, in turn
    first (the machine's pace drifts over a run); the median of the pairs' ratios."""
    count = min(count, FAILURE_JOBS)
    for name, measure in (("ours", ours_drain), ("kue", kue_drain)):
        cost = {1: [], 0: []}
        for turn in range(FAILURE_PAIRS * repeat):
            for failing in (1, 0) if turn % 2 == 0 else (0, 1):
                fresh(client)
                cost[failing].append(measure(client, url, count, failing))
        ratio = statistics.median(
            failed / succeeded for failed, succeeded in zip(cost[1], cost[0], strict=True)
        )
        print(
            f"  failure   {name:<8} workers' CPU per job: failing {statistics.median(cost[1]):.0f} us, "
            f"succeeding {statistics.median(cost[0]):.0f} us  -> a failure costs {ratio:.2f}x a success",
            flush=True,
        )


def express_server():
    return ["node", "9-stock.js"], NODE


def bench_peer(client, url, count, repeat, seconds):
    if not installed():
        return
    bench_peer_e2e(client, url, count, repeat)
    bench_creation(client, url, count, repeat)
    bench_failure_cost(client, url, count, repeat)
    bench_http(client, url, seconds, repeat, {"ours": stock_servers()["ours"], "express": express_server()})


if __name__ == "__main__":
    sys.exit("run it through bench.py: python benchmarks/bench.py peer")
