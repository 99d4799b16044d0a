"""The benchmark's peers: the original stack (Kue 0.11 and Express 4) and BullMQ 5, Kue's
successor, on Node (benchmarks/node/).

The systems users would pick instead of ours: the one this project ports, and the job
queue Node users pick today. All run on the same Redis (flushed between runs), in the
same run, on the same workload, taking turns round by round, and `bench.py peer` prints
each figure's median and min-max over the rounds and the ratios ours/kue, ours/bullmq:

  e2e       N notification jobs with phone 41535187NN, NN = i % 100 (2% blacklisted, so
            they fail), created in one batch (Kue: one save each, as the original did),
            processed two at a time (ours: two worker processes; Kue: one process,
            concurrency 2; BullMQ: one Worker, concurrency 2), every outcome heard by the
            creator: jobs/s, and CPU per job of the workers (all processes of the
            processor), of Redis and of the creator. Outcomes heard are counted: a run
            that missed some is said and left out of the medians.
  creation  the same N jobs saved, nothing processing them: jobs/s (three turns a round)
  failure   what a failing job costs against a succeeding one: workers' CPU per job
            draining 2,000 queued jobs that all fail, against 2,000 that all succeed, in
            pairs, each system's pairs taking turns with the others'
  http      the stock app under wrk, ours vs Express: req/s, p99 and the oversell count
            (the original reads the stock, then writes it back: it oversells; ours must not)

Each system is a processor and a creator run as processes of their own: 7_job_processor.py
and ours_creator.py (the one place the bench calls the package for this), kue_processor.js
and kue_creator.js, bullmq_processor.js and bullmq_creator.js. The creators take the same
arguments and report the same JSON (see ours_creator.py). Node's packages are installed
with `npm ci` from benchmarks/node/package-lock.json on first use; where `node` or `npm`
is missing, the peers are skipped with one line (and the http figure where `wrk` is).
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from measures import ROOT, bench_http, children, cpu_seconds, fresh, start, stock_servers, stop, wait_for
from rq import Worker
from rq.registry import FailedJobRegistry, FinishedJobRegistry

NODE = ROOT / "benchmarks" / "node"
QUEUE = "push_notification_code_2"
FIGURES = ("e2e", "creation", "failure", "http")
PEERS = ("kue", "bullmq")
CREATION_TURNS = 3  # turns of creation per round: each is quick, the median steadier
CREATION_BY_RQ_CALLS = "creation alone, by the scripts' RQ calls, jobs/s"
# Pairs of drains (failing, succeeding) per round, of so many jobs each: short drains
# taken close together meet the same pace of the machine.
FAILURE_PAIRS, FAILURE_JOBS = 4, 2000
# A creator still waiting this long after every job ended has missed outcomes: it is
# stopped, and the run reported as such. One that takes longer than MAX_SECONDS (plus a
# second per 100 jobs) at all is stopped too.
GRACE, MAX_SECONDS = 5.0, 60.0
CPU_FIGURES = {
    "workers": "workers' CPU per job, us",
    "redis": "Redis's CPU per job, us",
    "creator": "creator's CPU per job, us",
    "all": "workers + Redis + creator, us",  # e2e is about the cores kept busy / this
}
OTHERS = "everything else's CPU meanwhile, cores"
COMPLETE_RUNS = "runs that heard every outcome"
FAILURE_RATIO = "a failing job's CPU / a succeeding one's"


def zcards(client, *keys):
    return sum(client.zcard(key) for key in keys)


def rq_ended(client):
    """Our jobs completed or failed: RQ's registries."""
    registries = (FinishedJobRegistry(QUEUE, connection=client), FailedJobRegistry(QUEUE, connection=client))
    return zcards(client, *(registry.key for registry in registries))


def in_turn(systems, turn):
    """The systems in the order of this turn: each takes its turn first, then second... (a
    figure must not depend on the place in a round: the machine's pace drifts)."""
    first = turn % len(systems)
    return systems[first:] + systems[:first]


def blocked_clients(client, command):
    return sum(1 for each in client.client_list() if each.get("cmd") == command)


@dataclass(frozen=True)
class System:
    """How the bench runs one system: its processor and its creator (which takes COUNT
    FAILING [create-only]), run from `cwd`; `waiting(client)`: its processor waits for
    jobs; `ended(client)`: how many jobs have completed or failed."""

    name: str
    cwd: Path
    processor: list
    creator: list
    waiting: object
    ended: object


SYSTEMS = {
    "ours": System(
        "ours",
        ROOT,
        [sys.executable, "7_job_processor.py"],
        [sys.executable, "benchmarks/ours_creator.py"],
        waiting=lambda client: len(Worker.all(connection=client)) == 2,
        ended=rq_ended,
    ),
    "kue": System(
        "kue",
        NODE,
        ["node", "kue_processor.js"],
        ["node", "kue_creator.js"],
        waiting=lambda client: blocked_clients(client, "blpop") >= 1,
        ended=lambda client: zcards(client, "q:jobs:complete", "q:jobs:failed"),
    ),
    "bullmq": System(
        "bullmq",
        NODE,
        ["node", "bullmq_processor.js"],
        ["node", "bullmq_creator.js"],
        waiting=lambda client: blocked_clients(client, "bzpopmin") >= 1,  # on its queue's marker
        ended=lambda client: zcards(client, f"bull:{QUEUE}:completed", f"bull:{QUEUE}:failed"),
    ),
}


def node_modules_current():
    """Whether every package of package.json is installed at its (exact) version."""
    for name, version in json.loads((NODE / "package.json").read_text())["dependencies"].items():
        installed = NODE / "node_modules" / name / "package.json"
        if not installed.exists() or json.loads(installed.read_text())["version"] != version:
            return False
    return True


def installed():
    """Whether the peers can run here: node and npm found, their packages installed (npm
    ci, from the lock file, when package.json names packages node_modules lacks)."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        print(f"  peer      skipped: {' and '.join(missing)} not found (Kue and BullMQ run on Node)")
        return False
    if not node_modules_current():
        print("  peer      npm ci (benchmarks/node/package-lock.json)", flush=True)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE, check=True, stdout=subprocess.DEVNULL
        )
    return True


def machine_cpu():
    """CPU seconds the whole machine has been busy (every core, every process), from
    /proc/stat: user, nice, system, irq, softirq, steal."""
    ticks = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return sum(int(ticks[index]) for index in (0, 1, 2, 5, 6, 7)) / os.sysconf("SC_CLK_TCK")


def process_cpu(pids):
    """CPU seconds of the processes `pids` (a processor and its workers)."""
    return sum(cpu_seconds(pid) for pid in pids)


def run_creator(system, client, url, count, failing=0.02, create_only=False):
    """`system`'s creator run to its end: its JSON report ({created, heard, outcomes, cpu};
    heard is None unless it heard every outcome; cpu from its start of timing), with
    "process_cpu" added (all of its CPU, start-up included) and "maxrss_kb" (its peak
    RSS), and a list of the other lines
    it wrote on stderr. It is stopped GRACE seconds after every job ended, if it is still
    waiting."""
    command = [*system.creator, str(count), str(failing), *(["create-only"] if create_only else [])]
    with tempfile.TemporaryFile("w+") as stderr:  # a file: a chatty creator cannot block on a pipe
        environment = {**os.environ, "REDIS_URL": url}
        creator = subprocess.Popen(
            command, cwd=system.cwd, env=environment, stdout=subprocess.DEVNULL, stderr=stderr
        )
        deadline, give_up = None, time.monotonic() + MAX_SECONDS + count / 100
        while not (ended := os.wait4(creator.pid, os.WNOHANG))[0]:  # wait4: with its CPU
            if deadline is None and not create_only and system.ended(client) >= count:
                deadline = time.monotonic() + GRACE
            if time.monotonic() > min(deadline or give_up, give_up):
                creator.terminate()  # it writes what it heard, then ends
                ended = os.wait4(creator.pid, 0)
                break
            time.sleep(0.1)
        _pid, status, usage = ended
        creator.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        stderr.seek(0)
        lines = stderr.read().strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"{' '.join(command)} ended {creator.returncode}: {lines}") from None
    usage = {"process_cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}
    return {**report, **usage}, lines[:-1]


@dataclass
class Turn:
    """One end-to-end run: jobs/s until every outcome was heard (None: not all were), the
    outcomes heard, CPU microseconds per job, the cores that everything else on the machine
    kept busy meanwhile, and what the creator said beside its report."""

    rate: float | None
    outcomes: int
    cpu: dict
    others: float
    said: list


def e2e_turn(system, client, url, count):
    processor = start(system.processor, url, system.cwd)
    try:
        wait_for(lambda: system.waiting(client), timeout=30)
        workers, server = [processor.pid, *children(processor.pid)], client.info()["process_id"]
        snapshot = (process_cpu(workers), cpu_seconds(server), machine_cpu(), time.process_time())
        before, started = snapshot, time.perf_counter()
        report, said = run_creator(system, client, url, count)
        snapshot = (process_cpu(workers), cpu_seconds(server), machine_cpu(), time.process_time())
        after, elapsed = snapshot, time.perf_counter() - started
    finally:
        stop(processor)
    workers_used, server_used, machine_used, bench_used = (
        end - begin for begin, end in zip(before, after, strict=True)
    )
    # The creator's figure is its CPU from its start of timing (start-up left out, as ours
    # and Kue's and BullMQ's differ in it); `others` is what the machine spent beyond the
    # three, the creator's start-up and this process: other users of a shared machine.
    cpu = {"workers": workers_used, "redis": server_used, "creator": report["cpu"]}
    cpu["all"] = sum(cpu.values())
    ours = workers_used + server_used + report["process_cpu"] + bench_used
    others = max(0.0, (machine_used - ours) / elapsed)  # below 0: clock ticks' rounding
    return Turn(
        count / report["heard"] if report["heard"] else None,
        report["outcomes"],
        {part: 1e6 * seconds / count for part, seconds in cpu.items()},
        others,
        said,
    )


def bench_e2e(systems, client, url, count, repeat, results):
    for round_ in range(repeat):
        for system in in_turn(systems, round_):
            fresh(client)
            turn = e2e_turn(system, client, url, count)
            heard = f"heard {turn.outcomes:,}/{count:,}"
            if turn.rate is None:
                heard += f"  !! {count - turn.outcomes:,} outcomes never heard: left out of the medians"
            else:
                results.add("e2e, jobs/s", system.name, turn.rate)
                for part, us in turn.cpu.items():
                    results.add(CPU_FIGURES[part], system.name, us)
                results.add(OTHERS, system.name, turn.others, compare=False)
            results.add(COMPLETE_RUNS, system.name, turn.rate is not None, compare=False)
            rate = f"{turn.rate:6,.0f} jobs/s" if turn.rate else "     - jobs/s"
            cpu = ", ".join(f"{part} {us:.0f}" for part, us in turn.cpu.items())
            print(
                f"  e2e       {round_ + 1} {system.name:<7} {rate}  CPU us/job: {cpu}; others"
                f" {turn.others:.2f} cores; {heard}",
                flush=True,
            )
            for line in turn.said:
                print(f"  {'':<9} {system.name} said: {line}", flush=True)


def bench_creation(systems, client, url, count, repeat, results):
    """Creation alone: `count` jobs saved, nothing processing them (in e2e, the workers
    take the CPU the creator would use). Ours twice: by the package's batch creation, the
    figure compared, and by the RQ calls 7_job_creator.py shows, for the record."""
    ours = systems[0]
    by_rq_calls = replace(ours, creator=[*ours.creator, "rq-calls"])
    for turn in range(CREATION_TURNS * repeat):
        for system in in_turn([*systems, by_rq_calls], turn):
            fresh(client)
            report, _said = run_creator(system, client, url, count, create_only=True)
            if system is by_rq_calls:
                results.add(CREATION_BY_RQ_CALLS, ours.name, count / report["created"], compare=False)
            else:
                results.add("creation alone, jobs/s", system.name, count / report["created"])
    print(f"  creation  {CREATION_TURNS * repeat} turns each", flush=True)


def drain(system, client, url, count, failing):
    """Workers' CPU per job (us) while `system`'s processor drains `count` jobs of the
    workload queued by its creator once it waits: nothing else runs but Redis."""
    processor = start(system.processor, url, system.cwd)
    try:
        wait_for(lambda: system.waiting(client), timeout=30)
        workers = [processor.pid, *children(processor.pid)]
        before = process_cpu(workers)
        run_creator(system, client, url, count, failing, create_only=True)
        wait_for(lambda: system.ended(client) == count, timeout=MAX_SECONDS + count / 100, interval=0.05)
        used = process_cpu(workers) - before
    finally:
        stop(processor)
    return 1e6 * used / count


def bench_failure_cost(systems, client, url, count, repeat, results):
    """Workers' CPU per job draining jobs that all fail, against jobs that all succeed: a
    job's own cost, measured with nothing else running (in e2e, the creator and its
    follower share the cores). In pairs, in turn first (the machine's pace drifts over a
    run), the systems taking turns; the median of each system's pairs' ratios."""
    count = min(count, FAILURE_JOBS)
    for turn in range(FAILURE_PAIRS * repeat):
        for system in in_turn(systems, turn):
            cost = {}
            for failing in (1, 0) if turn % 2 == 0 else (0, 1):
                fresh(client)
                cost[failing] = drain(system, client, url, count, failing)
            results.add("drained, workers' CPU per succeeding job, us", system.name, cost[0])
            results.add("drained, workers' CPU per failing job, us", system.name, cost[1])
            results.add(FAILURE_RATIO, system.name, cost[1] / cost[0], compare=False)
    print(f"  failure   {FAILURE_PAIRS * repeat} pairs of {count:,}-job drains each", flush=True)


class Results:
    """Each figure's values per system, in the order first added; printed as one table."""

    def __init__(self, names):
        self.names = names
        self.figures = {}
        self.compared = set()

    def add(self, figure, name, value, compare=True):
        self.figures.setdefault(figure, {each: [] for each in self.names})[name].append(value)
        if compare:
            self.compared.add(figure)

    def print(self, title):
        peers = self.names[1:]
        header = f"  {'figure':<46}" + "".join(f"{name:>24}" for name in self.names)
        print(f"\n  {title}\n{header}" + "".join(f"{'ours/' + peer:>13}" for peer in peers))
        for figure, values in self.figures.items():
            if figure == COMPLETE_RUNS:
                cells = [f"{sum(runs)}/{len(runs)}" for runs in values.values()]
                print(f"  {figure:<46}" + "".join(f"{cell:>24}" for cell in cells))
                continue
            line = f"  {figure:<46}" + "".join(f"{spread(values[name]):>24}" for name in self.names)
            if figure in self.compared:
                line += "".join(f"{ratio(values['ours'], values[peer]):>13}" for peer in peers)
            print(line)
        print(flush=True)


def spread(values):
    """Median (min-max), or '-' for no value."""
    if not values:
        return "-"
    places = 2 if statistics.median(values) < 10 else 0
    return f"{statistics.median(values):,.{places}f} ({min(values):,.{places}f}-{max(values):,.{places}f})"


def ratio(ours, theirs):
    if not ours or not theirs:
        return "-"
    return f"{statistics.median(ours) / statistics.median(theirs):.2f}x"


def express_server():
    return ["node", "9-stock.js"], NODE


def bench_peer(client, url, count, repeat, seconds, figures=FIGURES, peers=PEERS):
    """The figures asked for, ours against the peers asked for."""
    if not installed():
        return
    systems = [SYSTEMS["ours"], *(SYSTEMS[peer] for peer in peers)]
    results = Results([system.name for system in systems])
    print(
        f"  peer      {count:,} jobs (2% failing), {repeat} rounds, ours against {', '.join(peers)},"
        " taking turns (the first of a round changes round by round)",
        flush=True,
    )
    if "e2e" in figures:
        bench_e2e(systems, client, url, count, repeat, results)
    if "creation" in figures:
        bench_creation(systems, client, url, count, repeat, results)
    if "failure" in figures:
        bench_failure_cost(systems, client, url, count, repeat, results)
    results.print(
        f"peer: median (min-max) over {repeat} rounds; jobs/s: higher is better, CPU: lower is better"
    )
    if "http" in figures:
        if shutil.which("wrk") is None:
            print("  http      skipped: wrk not found (apt-get install wrk)")
        else:
            servers = {"ours": stock_servers()["ours"], "express": express_server()}
            bench_http(client, url, seconds, repeat, servers)


if __name__ == "__main__":
    sys.exit("run it through bench.py: python benchmarks/bench.py peer")
