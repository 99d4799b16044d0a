"""Failover trials: a primary with two replicas and three Sentinels (sentinel_set.py), every
process on the Sentinel URL, a stream of creator runs, the processor, the stock app and the
seat app serving, and a fault to the primary:

  failover  SENTINEL FAILOVER: the old primary, alive, is demoted
  kill      SIGKILL of the primary, restarted empty once a replica is promoted
  stop      SIGSTOP of the primary past down-after-milliseconds, SIGCONT once a replica is
            promoted: it comes back believing it is the primary, and must be demoted

Each trial counts what matters to whoever runs the queue (Figures): acknowledged jobs lost
(a job whose creator printed `created` and never heard its end, or heard it lost), ids
handed out twice, jobs run twice (the processor's lines against the jobs created), units of
stock and seats confirmed beyond the stock or missing from it, and the seconds after the
promotion until every process served again. tests/failover/ runs a few trials; `bench.py
failover` runs many, beside BullMQ's and RQ's own workers (failover_peers.py).
"""

import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import redis

from benchmarks.sentinel_set import SentinelSet, wait_until
from queuing_system.grader.expected import BLACKLISTED, TASK8_DATA
from queuing_system.grader.redis_server import free_port
from queuing_system.layout import QueueKeys

ROOT = Path(__file__).resolve().parent.parent

FAULTS = ("failover", "kill", "stop")
WARM_UP = 2.0  # seconds of load before the fault
AFTER = 3.0  # seconds of load once every process served again
RESUME_WITHIN = 30.0  # seconds: a process not serving by then has not come back
RUN_WITHIN = 60.0  # seconds a creator run may take, fault included
QUIET_WITHIN = 60.0  # seconds for the jobs and seat jobs left to end once the load stops
TOLD_WITHIN = 15.0  # seconds for the seat app to tell an outcome a failover took off its stream
STOCK = {1: 4, 2: 10, 3: 2, 4: 5}  # 9_stock.py's items: their initial quantity
SEATS = 50
SHOP_EVERY = 0.4  # seconds between two reservations of a unit of stock (21 units: ~8 s)
SEAT_EVERY = 0.2  # seconds between two seat reservations (50 seats: ~10 s)

CREATED = re.compile(r"^Notification job created: (\S+)$")
ENDED = re.compile(r"^Notification job (\S+) (completed|failed: .*)$")
SENT = re.compile(r"^Sending notification to (\S+), with message: (.*)$")
SEAT_ENDED = re.compile(r"^Seat reservation job (\S+) (completed|failed: .*)$")
LOST_WORDS = ("Job lost", "Job abandoned")


class Streamed:
    """A process whose stdout lines are kept with the moment each came (time.monotonic()),
    in its own process group (a stop reaches what it started)."""

    def __init__(self, command, env, cwd=ROOT):
        self.command = command
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines = []  # (moment, line)
        self.errors = []
        self.readers = [
            threading.Thread(target=self.read, args=(self.process.stdout, self.lines), daemon=True),
            threading.Thread(target=self.read, args=(self.process.stderr, self.errors), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def read(stream, into):
        for line in stream:
            into.append((time.monotonic(), line.rstrip("\n")))

    @property
    def stderr(self):
        return "\n".join(line for _, line in self.errors)

    def running(self):
        return self.process.poll() is None

    def wait(self, timeout):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            if self.process.poll() is not None:
                for reader in self.readers:
                    reader.join(5)

    def stop(self, timeout=10.0):
        """SIGTERM to its group, SIGKILL after `timeout`; its exit code (None if killed)."""
        self.signal(signal.SIGTERM)
        code = self.wait(timeout)
        if code is None:
            self.signal(signal.SIGKILL)
            self.process.wait()
            for reader in self.readers:
                reader.join(5)
        return code

    def signal(self, signum):
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


def env_for(url, **extra):
    env = dict(os.environ, REDIS_URL=url, **extra)
    env.pop("QUEUING_DEBUG", None)
    return env


def python(script, *args):
    return [sys.executable, script, *args]


def get(url, timeout=5.0):
    """(status, body) of a GET, or (None, error) if no answer came."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return None, repr(error)


@dataclass
class Run:
    """One creator run: its lines (moment, line), exit code (None: still running at the end),
    and its stderr's lines (what a run that failed said)."""

    lines: list
    code: int | None
    started: float
    errors: list = field(default_factory=list)

    def created(self):
        return [m.group(1) for _, line in self.lines if (m := CREATED.match(line))]

    def outcomes(self):
        return {m.group(1): m.group(2) for _, line in self.lines if (m := ENDED.match(line))}


class Creators(threading.Thread):
    """Creator runs one after another (`command`), until stop()."""

    def __init__(self, command, env, cwd=ROOT):
        super().__init__(name="creators", daemon=True)
        self.command, self.env, self.cwd = command, env, cwd
        self.runs = []
        self.stopping = threading.Event()
        self.current = None

    def run(self):
        while not self.stopping.is_set():
            started = time.monotonic()
            self.current = Streamed(self.command, self.env, self.cwd)
            code = self.current.wait(RUN_WITHIN)
            if code is None:
                code = self.current.stop()
                code = None if code is None else f"stopped after {RUN_WITHIN:.0f}s ({code})"
            self.runs.append(Run(self.current.lines, code, started, self.current.errors))

    def stop(self, now=False):
        """No run after the one under way; `now`: that one stopped too (an interrupted trial)."""
        self.stopping.set()
        if now and self.current is not None:
            self.current.stop()
        self.join(RUN_WITHIN + 15)


class Shopper(threading.Thread):
    """GETs of `paths` (taken in turn) every `every` seconds; each answer kept with its moment."""

    def __init__(self, base, paths, every):
        super().__init__(name="shopper", daemon=True)
        self.base, self.paths, self.every = base, paths, every
        self.answers = []  # (moment, path, status, body)
        self.stopping = threading.Event()

    def run(self):
        turn = 0
        while not self.stopping.wait(self.every):
            path = self.paths[turn % len(self.paths)]
            turn += 1
            status, body = get(self.base + path)
            self.answers.append((time.monotonic(), path, status, body))

    def stop(self, now=False):
        self.stopping.set()
        self.join(30)


@dataclass
class Figures:
    """What one trial of one system kept and lost."""

    system: str
    fault: str
    runs: int = 0  # creator runs that created their jobs
    acknowledged: int = 0  # jobs whose `created` line was printed
    lost: int = 0  # of those, not ended in Redis at the end (or heard lost)
    unheard: int = 0  # of those, whose end their creator never heard
    ids_twice: int = 0  # ids printed for two jobs
    ran_twice: int = 0  # job runs beyond one per job (the processor's lines)
    runs_failed: list = field(default_factory=list)  # creator runs that did not end well
    oversold: int = 0  # units of stock or seats confirmed beyond the stock
    missing: int = 0  # units gone from the stock with no confirmation
    untold: int = 0  # seats taken by jobs whose end the app never printed
    resume: float | None = None  # seconds after the promotion until every process served
    resumed: dict = field(default_factory=dict)  # each process's
    notes: list = field(default_factory=list)

    def ok(self, bound):
        return (
            not (self.lost or self.ids_twice or self.ran_twice or self.runs_failed)
            and not (self.oversold or self.missing or self.untold)
            and self.resume is not None
            and self.resume <= bound
        )


def first_after(moments, since):
    later = [moment - since for moment in moments if moment >= since]
    return min(later) if later else None


def count_jobs(figures, runs, sent_lines, expected_sends):
    """Fill `figures` from the creator runs and the processor's lines: `expected_sends`
    maps a (phone, message) a run's jobs send to how many times one run sends it."""
    seen_ids = Counter()
    for run in runs:
        created, outcomes = run.created(), run.outcomes()
        if not created:
            if run.code not in (0, None):
                said = [line for _, line in run.lines[-3:] + run.errors[-3:]]
                figures.runs_failed.append(f"exit {run.code} before creating: {said}")
            continue
        figures.runs += 1
        figures.acknowledged += len(created)
        seen_ids.update(created)
        unheard = [job for job in created if job not in outcomes]
        lost = [job for job in created if any(word in outcomes.get(job, "") for word in LOST_WORDS)]
        figures.unheard += len(unheard)
        figures.lost += len(lost)
        if run.code != 0 or unheard:
            figures.runs_failed.append(f"exit {run.code}, {len(unheard)} outcomes unheard")
    figures.ids_twice += sum(count - 1 for count in seen_ids.values() if count > 1)
    sent = Counter(sent_lines)
    for message, per_run in expected_sends.items():
        figures.ran_twice += max(sent[message] - per_run * figures.runs, 0)
    figures.ran_twice += sum(count for message, count in sent.items() if message not in expected_sends)
    return seen_ids


class System:
    """What a trial runs of one queue system: its processes, its creators' runs, and how
    to read what they did."""

    name = ""
    processor = "processor"  # the process whose lines are the jobs run

    def __init__(self, url):
        self.url = url
        self.processes = {}

    def expected_sends(self):
        return Counter((phone, message) for phone, message in TASK8_DATA if phone not in BLACKLISTED)

    def shoppers(self):
        return []

    def seat_lines(self):
        return []

    def count_goods(self, figures, client, shoppers):
        pass

    def stop(self):
        codes = {name: process.stop() for name, process in self.processes.items()}
        return {name: code for name, code in codes.items() if code != 0}

    def sent_lines(self):
        lines = [
            line
            for name, process in self.processes.items()
            if name.startswith(self.processor)
            for _, line in process.lines
        ]
        return [m.groups() for line in lines if (m := SENT.match(line))]

    def resumed(self, promoted, creators, shoppers):
        """Seconds after the promotion its creators and processor first served."""
        runs = creators.runs + ([Run(creators.current.lines, None, 0)] if creators.current else [])
        sent = [
            m
            for name, process in self.processes.items()
            if name.startswith(self.processor)
            for m, line in process.lines
            if SENT.match(line)
        ]
        return {
            "creators": first_after(
                [m for run in runs for m, line in run.lines if CREATED.match(line)], promoted
            ),
            "processor": first_after(sent, promoted),
        }


class Ours(System):
    """This repository's scripts: 7_job_creator.py runs, 7_job_processor.py, 9_stock.py
    and 100_seat.py, all on the Sentinel URL."""

    name = "ours"

    def __init__(self, url):
        super().__init__(url)
        self.stock_port, self.seat_port = free_port(), free_port()

    def start(self):
        env = env_for(self.url)
        self.processes["processor"] = Streamed(python("7_job_processor.py"), env)
        self.processes["stock"] = Streamed(python("9_stock.py", "--port", str(self.stock_port)), env)
        self.processes["seat"] = Streamed(python("100_seat.py", "--port", str(self.seat_port)), env)
        for name, path in (
            ("stock", self.stock_base + "/list_products/1"),
            ("seat", self.seat_base + "/available_seats"),
        ):
            wait_until(lambda path=path: get(path)[0] == 200, 30, f"{name} up")
        wait_until(lambda: get(self.seat_base + "/process")[0] == 200, 30, "seat processing")
        wait_until(lambda: self.processes["processor"].errors, 30, "the processor's first line")

    @property
    def stock_base(self):
        return f"http://127.0.0.1:{self.stock_port}"

    @property
    def seat_base(self):
        return f"http://127.0.0.1:{self.seat_port}"

    def creators(self):
        return Creators(python("7_job_creator.py"), env_for(self.url))

    def shoppers(self):
        stock_paths = [f"/reserve_product/{item}" for item, units in STOCK.items() for _ in range(units)]
        return [
            Shopper(self.stock_base, stock_paths + ["/reserve_product/2"], SHOP_EVERY),
            Shopper(self.seat_base, ["/reserve_seat"], SEAT_EVERY),
        ]

    def seat_lines(self):
        return [
            (moment, m.group(1), m.group(2))
            for moment, line in self.processes["seat"].lines
            if (m := SEAT_ENDED.match(line))
        ]

    def quiet(self, client):
        """Every job ended: the processor's queue and the seats' empty, nothing started."""
        for queue in ("push_notification_code_2", "reserve_seat"):
            keys = QueueKeys(queue)
            if client.llen(keys.queue) or client.llen(keys.intermediate) or client.zcard(keys.started):
                return False
        return True

    def ended_ids(self, client):
        keys = QueueKeys("push_notification_code_2")
        return {text(each) for key in (keys.finished, keys.failed) for each in client.zrange(key, 0, -1)}

    def count_goods(self, figures, client, shoppers):
        """Stock and seats: confirmed against what Redis holds now."""
        stock_shopper, seat_shopper = shoppers
        for item, initial in STOCK.items():
            confirmed = sum(
                1
                for _, path, status, body in stock_shopper.answers
                if path == f"/reserve_product/{item}" and status == 200 and "confirmed" in body
            )
            held = client.get(f"item.{item}")
            left = initial if held is None else int(held)
            # A unit confirmed and back in stock was sold (and may be sold again): oversold.
            figures.oversold += max(confirmed + left - initial, 0) + max(-left, 0)
            figures.missing += max(initial - left - confirmed, 0)
            if confirmed + left != initial:
                figures.notes.append(f"item {item}: {confirmed} confirmed, {left} left of {initial}")
        # A seat is taken by a job once (its receipt): taken seats, receipts and the jobs
        # told completed must agree. An outcome whose event a failover lost is told by the
        # app's status check, once its event stream is quiet: waited for, TOLD_WITHIN.
        receipts = sum(1 for _ in client.scan_iter("receipt:seat:*", count=1000))

        def completed():
            return sum(1 for _, _, outcome in self.seat_lines() if outcome == "completed")

        try:
            wait_until(lambda: completed() >= receipts, TOLD_WITHIN, "every seat taken told")
        except TimeoutError:
            pass
        told = completed()
        left = client.get("available_seats")
        left = SEATS if left is None else int(left)
        figures.oversold += max(receipts + left - SEATS, 0) + max(-left, 0) + max(told - receipts, 0)
        figures.missing += max(SEATS - left - receipts, 0)
        figures.untold += max(receipts - told, 0)
        if receipts + left != SEATS or told != receipts:
            figures.notes.append(f"seats: {told} told completed, {receipts} taken, {left} left of {SEATS}")

    def resumed(self, promoted, creators, shoppers):
        """Seconds after the promotion each process first served."""
        stock_shopper, seat_shopper = shoppers
        return {
            **super().resumed(promoted, creators, shoppers),
            "stock": first_after([m for m, _, status, _ in stock_shopper.answers if status == 200], promoted),
            "seat app": first_after(
                [m for m, _, status, _ in seat_shopper.answers if status == 200], promoted
            ),
            "seat worker": first_after([m for m, _, _ in self.seat_lines()], promoted),
        }


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def inject(servers, fault):
    """Do `fault` to the set's primary; (old, new, the moment the new one was seen
    promoted). The old primary is brought back (restarted empty, or thawed) at once."""
    if fault == "failover":
        return servers.failover()
    if fault == "kill":
        old, new, promoted = servers.kill_primary()
        servers.restart(old)
        return old, new, promoted
    old, new, promoted = servers.freeze_primary()
    servers.thaw(old)
    return old, new, promoted


def trial(servers, systems, fault):
    """One trial of `systems` (Ours, and the peers of failover_peers.py), side by side on
    the set, under `fault`: each one's Figures."""
    client = redis.Redis.from_url(servers.plain_url(), socket_timeout=5)
    client.flushall()
    client.execute_command("WAIT", len(servers.nodes) - 1, 5000)
    figures = {system.name: Figures(system.name, fault) for system in systems}
    loads = {}
    ended = False
    try:
        for system in systems:
            system.start()
        for system in systems:
            loads[system.name] = system.loads = [system.creators(), *system.shoppers()]
            for load in loads[system.name]:
                load.start()
        time.sleep(WARM_UP)
        _, new, promoted = inject(servers, fault)
        resumed = {system.name: {} for system in systems}

        def everyone_served():
            for system in systems:
                creators, *shoppers = loads[system.name]
                resumed[system.name].update(system.resumed(promoted, creators, shoppers))
            return all(value is not None for each in resumed.values() for value in each.values())

        try:
            wait_until(everyone_served, RESUME_WITHIN, "every process serving again")
        except TimeoutError:
            pass
        time.sleep(AFTER)
        ended = True
    finally:
        for each in loads.values():
            for load in each:
                load.stop(now=not ended)
        if not ended:  # interrupted (Ctrl-C): nothing it started goes on running
            for system in systems:
                system.stop()
    client = redis.Redis.from_url(servers.plain_url(new), socket_timeout=5)
    for system in systems:
        figures[system.name].resumed = resumed[system.name]
        count(figures[system.name], system, client, loads[system.name])
    return [figures[system.name] for system in systems]


def count(figures, system, client, loads):
    """Fill `figures` with what `system` did in the trial, once its jobs have ended."""
    try:
        wait_until(lambda: system.quiet(client), QUIET_WITHIN, "every job ended")
    except TimeoutError:
        figures.notes.append("jobs still queued or running at the end")
    resumed = figures.resumed.values()
    figures.resume = None if None in resumed else max(resumed)
    creators, *shoppers = loads
    seen = count_jobs(figures, creators.runs, system.sent_lines(), system.expected_sends())
    figures.lost += len(set(seen) - system.ended_ids(client))
    seat_ids = Counter(job for _, job, _ in system.seat_lines())
    figures.ids_twice += sum(count - 1 for count in seat_ids.values() if count > 1)
    figures.ids_twice += len(set(seen) & set(seat_ids))
    system.count_goods(figures, client, shoppers)
    for name, code in system.stop().items():
        figures.notes.append(f"{name} exited {code}")


def describe(figures):
    resumed = ", ".join(
        f"{name} {value:.1f}s" if value is not None else f"{name} never"
        for name, value in figures.resumed.items()
    )
    return (
        f"{figures.system} {figures.fault}: {figures.acknowledged} acknowledged in {figures.runs} runs, "
        f"lost {figures.lost}, unheard {figures.unheard}, ids twice {figures.ids_twice}, "
        f"ran twice {figures.ran_twice}, "
        f"oversold {figures.oversold}, missing {figures.missing}, untold {figures.untold}; "
        f"resumed {resumed}"
        + (
            f"; {'; '.join(figures.notes + figures.runs_failed)}"
            if figures.notes or figures.runs_failed
            else ""
        )
    )


def spread(values, unit=""):
    if not values:
        return "-"
    return f"{statistics.median(values):g}{unit} ({min(values):g}-{max(values):g})"


def bench_failover(trials, faults, peers, jobs, rounds):
    """`bench.py failover`: the replication wait's cost, then `trials` trials of each fault
    for ours and `peers` (System classes: failover_peers.py's), side by side; a table of
    medians and spreads."""
    replication_cost(jobs, rounds)
    kinds = [Ours] + [peer for peer in peers if getattr(peer, "available", lambda: True)()]
    skipped = [peer.name for peer in peers if peer not in kinds]
    if skipped:
        print(f"  failover  skipped {', '.join(skipped)}: node or its packages missing (benchmarks/node)")
    results = {}  # (fault, system): [Figures]
    with SentinelSet() as servers:
        bound = servers.down_after_ms / 1000 + 5
        print(f"  failover  down-after {servers.down_after_ms} ms; serving again asked within {bound:g} s")
        for fault in faults:
            for number in range(trials):
                servers.settle()
                for figures in trial(servers, [kind(servers.url) for kind in kinds], fault):
                    results.setdefault((fault, figures.system), []).append(figures)
                    print(f"  {number + 1:>3} {describe(figures)}", flush=True)
    print()
    print_table(results, bound)


FAULT_NAMES = {"failover": "SENTINEL FAILOVER", "kill": "SIGKILL", "stop": "SIGSTOP, SIGCONT"}


def print_table(results, bound):
    """For each fault, the systems side by side: per trial, its median and range; in all,
    the sum over the trials with the median and range."""
    systems = list(dict.fromkeys(system for _, system in results))
    for fault in dict.fromkeys(fault for fault, _ in results):
        runs = {system: results.get((fault, system), []) for system in systems}
        trials = "/".join(str(len(each)) for each in runs.values())
        print(
            f"  {FAULT_NAMES.get(fault, fault)} ({trials} trials)".ljust(36)
            + "".join(f"{s:>22}" for s in systems)
        )
        rows = [
            ("jobs acknowledged per trial", lambda each: spread([f.acknowledged for f in each])),
            ("acknowledged jobs lost", lambda each: in_all([f.lost for f in each])),
            ("outcomes never heard", lambda each: in_all([f.unheard for f in each])),
            ("ids handed out twice", lambda each: in_all([f.ids_twice for f in each])),
            ("jobs run twice", lambda each: in_all([f.ran_twice for f in each])),
            ("seconds to serve again", resume_cell),
            (
                f"trials all good (<= {bound:g} s)",
                lambda each: f"{sum(f.ok(bound) for f in each)}/{len(each)}",
            ),
        ]
        for label, cell in rows:
            print(
                f"    {label:<32}" + "".join(f"{cell(each) if each else '-':>22}" for each in runs.values())
            )
    goods = [each for (_, system), runs in results.items() if system == "ours" for each in runs]
    if goods:
        print(
            f"  ours' stock and seats over {len(goods)} trials: oversold {sum(f.oversold for f in goods)}, "
            f"missing {sum(f.missing for f in goods)}; seats taken whose end the seat app never told "
            f"{sum(f.untold for f in goods)}"
        )


def in_all(values):
    """The sum of a figure over the trials, with its median and range per trial."""
    return f"{sum(values)}: {spread(values)}" if any(values) else "0"


def resume_cell(runs):
    resumes = [round(f.resume, 1) for f in runs if f.resume is not None]
    never = len(runs) - len(resumes)
    return (spread(resumes) if resumes else "") + (f" +{never} never" if never else "")


def replication_cost(jobs, rounds):
    """Ours end to end (bench.py's e2e: `jobs` jobs through 7_job_processor.py, every outcome
    heard) on one Redis, and on the Sentinel set's primary with its two replicas (every
    write waited for), taking turns for `rounds` rounds; jobs/s and CPU per job, the
    replicas' included."""
    import measures  # noqa: PLC0415 - benchmarks/measures.py (bench.py imported it first)

    from queuing_system.grader.redis_server import RedisServer  # noqa: PLC0415

    figures = {"no replica": [], "2 replicas": []}
    with RedisServer() as plain, SentinelSet() as servers:
        for _ in range(rounds):
            for name, url in (("no replica", plain.url), ("2 replicas", servers.url)):
                primary = plain if url == plain.url else servers.primary()
                client = redis.Redis(port=primary.port)
                client.flushall()
                others = (
                    [node.process.pid for node in servers.nodes if node is not primary]
                    if url != plain.url
                    else []
                )
                before = sum(map(measures.cpu_seconds, others))
                run = measures.ours_end_to_end(client, url, measures.notifications(jobs))
                replicas = 1e6 * (sum(map(measures.cpu_seconds, others)) - before) / jobs
                figures[name].append(jobs / run.heard)
                line = f"{jobs / run.heard:7,.0f} jobs/s; {run.cpu_line()}, replicas {replicas:.0f} us"
                print(f"  wait      {name:<10} {line}", flush=True)
    ratio = statistics.median(figures["2 replicas"]) / statistics.median(figures["no replica"])
    print(
        f"  wait      end to end: 2 replicas {spread([round(v) for v in figures['2 replicas']], ' jobs/s')}, "
        f"none {spread([round(v) for v in figures['no replica']], ' jobs/s')}: {ratio:.2f}x",
        flush=True,
    )
