"""Prometheus metrics: what an engineer who ran BullMQ or Sidekiq looks at first, served in
Prometheus's text format by the official client (prometheus_client's registry, custom
collector and exposition).

    queuing_jobs_started_total{queue}        jobs a worker started
    queuing_jobs_completed_total{queue}      ... that completed
    queuing_jobs_failed_total{queue}         ... that failed for good
    queuing_jobs_retried_total{queue}        ... that failed and will run again
    queuing_jobs_abandoned_total{queue}      jobs whose worker died, found by the upkeep
    queuing_job_wait_seconds{queue}          from enqueued to started (histogram)
    queuing_job_run_seconds{queue}           the job function's own time (histogram)
    queuing_queue_depth{queue}               jobs waiting on the queue, read when scraped
    queuing_redis_outages_total              outages the processes saw (each said on stderr)

Off unless asked (a processor's --metrics-port; the apps' /metrics): a worker without
metrics pays one `is None` per job, and prometheus_client is not even imported.

A processor's workers are processes of their own (worker/pool.py). Each keeps its counts
in plain numbers (a job costs a few additions and two bisects, under a microsecond) and writes them, at
most once a second and as it ends, to a file of its own in a directory its processor made
before forking it (METRICS_DIR_ENV); the processor sums the files when scraped. Chosen
over prometheus_client's multiprocess mode, which writes every value to a memory-mapped
file as it changes: 12.5 us and 57,000 instructions a job here, 12.6% of a worker's
(docs/benchmarks.md). What a worker killed outright counted in its last second is lost.
"""

import atexit
import json
import os
import shutil
import tempfile
import threading
from bisect import bisect_left
from time import monotonic

from .connection import outage

METRICS_DIR_ENV = "QUEUING_METRICS_DIR"  # where the processes of one processor or app write
# Seconds: jobs here take a millisecond, or wait on a busy queue up to minutes.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
OUTCOMES = ("completed", "failed", "retried")
WRITE_EVERY = 1.0  # seconds between two writes of a process's counts, at most
COUNTERS = {
    "started": "Jobs a worker started",
    "completed": "Jobs that completed",
    "failed": "Jobs that failed for good",
    "retried": "Jobs that failed and will run again",
    "abandoned": "Jobs whose worker died, found by the upkeep",
}
HISTOGRAMS = {
    "wait": ("queuing_job_wait_seconds", "Seconds from enqueued to started"),
    "run": ("queuing_job_run_seconds", "Seconds the job function ran"),
}


def share_between_processes():
    """Before forking processes that count: each writes its counts to a file in a
    directory made here (removed at this process's exit), and any of them serves the sum."""
    if os.environ.get(METRICS_DIR_ENV):
        return
    made = tempfile.mkdtemp(prefix="queuing-metrics-")
    os.environ[METRICS_DIR_ENV] = made
    owner = os.getpid()
    atexit.register(lambda: os.getpid() == owner and shutil.rmtree(made, ignore_errors=True))


def new_queue_counts():
    counts = dict.fromkeys(COUNTERS, 0)
    for kind in HISTOGRAMS:
        counts[kind] = [0] * (len(BUCKETS) + 1)  # per bucket, the last past the largest bound
        counts[f"{kind}_sum"] = 0.0
    return counts


class Counts:
    """This process's counts: {queue: its counts}, and the Redis outages it saw."""

    made = None

    def __init__(self):
        self.queues = {}
        self.outages = 0
        self.lock = threading.Lock()  # a queue added, and a scrape's copy
        self.enqueued = (None, 0.0)  # the last job's enqueued_at, and as epoch seconds
        self.next_write = 0.0
        self.changed = False  # counted since the last write
        outage.on_lost = self.outage_seen

    @classmethod
    def of_this_process(cls):
        """This process's counts (a process forked from one that counted starts at 0)."""
        if cls.made is None or cls.made[0] != os.getpid():
            cls.made = (os.getpid(), cls())
        return cls.made[1]

    def of_queue(self, name):
        with self.lock:
            counts = self.queues.get(name)
            if counts is None:
                counts = self.queues[name] = new_queue_counts()
        return counts

    def job_ran(self, queue, outcome, enqueued_at, started, ended):
        """A job of `queue` started at `started` (epoch seconds), ended at `ended` with
        `outcome` (OUTCOMES), enqueued at `enqueued_at` (a datetime, or None). A job's
        worth of work: no lock (a scrape's copy retries, see snapshot), each step cheap."""
        counts = self.queues.get(queue) or self.of_queue(queue)
        counts["started"] += 1
        counts[outcome] += 1
        if enqueued_at is not None:
            if enqueued_at is not self.enqueued[0]:  # a batch's jobs share one (layout.py)
                self.enqueued = (enqueued_at, enqueued_at.timestamp())
            wait = started - self.enqueued[1]
            wait = wait if wait > 0.0 else 0.0
            counts["wait"][bisect_left(BUCKETS, wait)] += 1
            counts["wait_sum"] += wait
        run = ended - started
        run = run if run > 0.0 else 0.0
        counts["run"][bisect_left(BUCKETS, run)] += 1
        counts["run_sum"] += run
        self.changed = True

    def write_if_due(self):
        """Write the counts if they changed and the last write is WRITE_EVERY old (a
        worker's loop asks between two jobs, and at least once a second when idle)."""
        if self.changed and monotonic() >= self.next_write:
            self.write()

    def job_abandoned(self, queue):
        self.of_queue(queue)["abandoned"] += 1
        self.write()

    def outage_seen(self):
        self.outages += 1
        self.write()

    def snapshot(self):
        """A copy of the counts. A worker's thread may add to them meanwhile (the seat app):
        a copy met by a queue's first job is made again."""
        while True:
            try:
                with self.lock:  # no queue is added meanwhile
                    return {"outages": self.outages, "queues": json.loads(json.dumps(self.queues))}
            except RuntimeError:  # noqa: PERF203 - a dict changed size as it was read
                continue

    def write(self):
        """This process's counts to its file, if its processes share a directory: written
        whole, then renamed, so that a scrape reads one write or the other."""
        self.next_write = monotonic() + WRITE_EVERY
        self.changed = False
        where = os.environ.get(METRICS_DIR_ENV)
        if not where:
            return
        path = os.path.join(where, f"{os.getpid()}.json")
        try:
            with open(f"{path}.tmp", "w") as file:
                json.dump(self.snapshot(), file)
            os.replace(f"{path}.tmp", path)
        except OSError:  # the directory is gone (the processor stopping): nothing to serve
            pass


def worker_metrics():
    """The counts a worker adds its jobs to, in this process, written at its exit too."""
    counts = Counts.of_this_process()
    atexit.register(counts.write)
    return counts


def count_outages():
    """Count this process's Redis outages from now on."""
    Counts.of_this_process()


def summed():
    """This process's counts and those the other processes of its directory wrote."""
    total = Counts.of_this_process().snapshot()
    where = os.environ.get(METRICS_DIR_ENV)
    names = os.listdir(where) if where and os.path.isdir(where) else []
    for name in names:
        if not name.endswith(".json") or name == f"{os.getpid()}.json":
            continue
        try:
            with open(os.path.join(where, name)) as file:
                other = json.load(file)
        except (OSError, ValueError):  # gone, or written as we read: the next scrape has it
            continue
        total["outages"] += other.get("outages", 0)
        for queue, counts in other.get("queues", {}).items():
            mine = total["queues"].setdefault(queue, new_queue_counts())
            for key, value in counts.items():
                if isinstance(value, list):
                    mine[key] = [a + b for a, b in zip(mine[key], value, strict=True)]
                else:
                    mine[key] += value
    return total


class JobCounts:
    """A collector (prometheus_client's custom collector API) of the counts summed."""

    def describe(self):
        return []  # names checked by no one: they are this collector's alone

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        total = summed()
        families = {
            kind: CounterMetricFamily(f"queuing_jobs_{kind}", what, labels=["queue"])
            for kind, what in COUNTERS.items()
        }
        histograms = {
            kind: HistogramMetricFamily(name, what, labels=["queue"])
            for kind, (name, what) in HISTOGRAMS.items()
        }
        for queue, counts in sorted(total["queues"].items()):
            for kind, family in families.items():
                family.add_metric([queue], counts[kind])
            for kind, family in histograms.items():
                cumulative, buckets = 0, []
                for bound, count in zip([*map(str, BUCKETS), "+Inf"], counts[kind], strict=True):
                    cumulative += count
                    buckets.append((bound, cumulative))
                family.add_metric([queue], buckets, counts[f"{kind}_sum"])
        yield from families.values()
        yield from histograms.values()
        outages = CounterMetricFamily("queuing_redis_outages", "Redis outages seen (each said on stderr)")
        outages.add_metric([], total["outages"])
        yield outages


class QueueDepth:
    """A collector: the length of each queue, read from Redis when scraped, so nothing is
    counted per job. Redis away: no depth shown."""

    def __init__(self, connection, queue_names):
        self.connection = connection
        self.queue_names = queue_names  # a list, or an iterable read again at each scrape

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        depth = GaugeMetricFamily("queuing_queue_depth", "Jobs waiting on the queue", labels=["queue"])
        try:
            names = list(self.queue_names)
            with self.connection.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.llen(f"rq:queue:{name}")
                lengths = pipe.execute()
        except Exception:  # noqa: BLE001 - a scrape must answer: Redis away shows as no depth
            names, lengths = [], []
        for name, length in zip(names, lengths, strict=True):
            depth.add_metric([name], length)
        yield depth


def registry(connection=None, queue_names=()):
    """A registry to serve: the job counts summed over the processes, and the depth of
    `queue_names` on `connection`."""
    from prometheus_client import CollectorRegistry

    Counts.of_this_process()  # outages counted from now on
    served = CollectorRegistry()
    served.register(JobCounts())
    if connection is not None:
        served.register(QueueDepth(connection, queue_names))
    return served


def exposition(served):
    """(body bytes, content type) of the registry `served`, in Prometheus's text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(served), CONTENT_TYPE_LATEST


def serve_metrics(port, served, host="127.0.0.1"):
    """Serve `served` at http://host:port/metrics from a thread of this process
    (prometheus_client's own server). Returns the server, or raises OSError."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=served)
    return server
