"""Prometheus metrics, by the official client (prometheus_client): what an engineer who ran
BullMQ or Sidekiq looks at first.

    queuing_jobs_started_total{queue}        jobs a worker started
    queuing_jobs_completed_total{queue}      ... that completed
    queuing_jobs_failed_total{queue}         ... that failed for good
    queuing_jobs_retried_total{queue}        ... that failed and will run again
    queuing_jobs_abandoned_total{queue}      jobs whose worker died, found by the upkeep
    queuing_job_wait_seconds{queue}          from enqueued to started (histogram)
    queuing_job_run_seconds{queue}           the job function's own time (histogram)
    queuing_queue_depth{queue}               jobs waiting on the queue, read at scrape time
    queuing_redis_outages_total              outages this process saw (each said on stderr)

Off unless asked (a processor's --metrics-port; the apps' /metrics), and then imported: a
worker without metrics pays one `is None` per job. A processor's workers are processes of
their own (worker/pool.py): they count in prometheus_client's documented multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, a directory of the processor's own made before it forks them),
and the processor sums their files when scraped. Chosen over sums kept by the parent: a
worker's counts survive its crash and its replacement without code of ours between the
processes, at ~2 us per value written (docs/benchmarks.md: the cost per job).
"""

import atexit
import os
import shutil
import sys
import tempfile

from .connection import outage

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own name for it
# Seconds: jobs here take a millisecond, or wait on a busy queue up to minutes.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
OUTCOMES = ("completed", "failed", "retried")


def share_between_processes():
    """Before forking processes that count: their values go to files in a directory, as
    prometheus_client's multiprocess mode asks (set before the client is imported; one
    already set, as for gunicorn, is kept). The directory made here goes at exit."""
    if os.environ.get(MULTIPROCESS_ENV) or "prometheus_client" in sys.modules:
        return  # set already, or too late: the client chose how to keep values as it was imported
    made = tempfile.mkdtemp(prefix="queuing-metrics-")
    os.environ[MULTIPROCESS_ENV] = made
    owner = os.getpid()
    atexit.register(lambda: os.getpid() == owner and shutil.rmtree(made, ignore_errors=True))


def shared():
    return bool(os.environ.get(MULTIPROCESS_ENV))


class Metrics:
    """This process's metrics, in a registry of their own (a process forked from one that
    counted makes its own: prometheus_client refuses a name twice in one registry)."""

    made = None

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Histogram  # on first use only

        self.registry = CollectorRegistry()

        def counter(name, what):
            return Counter(f"queuing_jobs_{name}", what, ["queue"], registry=self.registry)

        def histogram(name, what):
            return Histogram(name, what, ["queue"], buckets=BUCKETS, registry=self.registry)

        self.started = counter("started", "Jobs a worker started")
        self.outcomes = {
            "completed": counter("completed", "Jobs that completed"),
            "failed": counter("failed", "Jobs that failed for good"),
            "retried": counter("retried", "Jobs that failed and will run again"),
        }
        self.abandoned = counter("abandoned", "Jobs whose worker died, found by the upkeep")
        self.wait = histogram("queuing_job_wait_seconds", "Seconds from enqueued to started")
        self.run = histogram("queuing_job_run_seconds", "Seconds the job function ran")
        self.outages = Counter(
            "queuing_redis_outages", "Redis outages this process saw (said on stderr)", registry=self.registry
        )
        self.per_queue = {}  # {queue name: its labelled children}, made once each
        outage.on_lost = self.outages.inc

    @classmethod
    def of_this_process(cls):
        if cls.made is None or cls.made[0] != os.getpid():
            cls.made = (os.getpid(), cls())
        return cls.made[1]

    def of_queue(self, name):
        children = self.per_queue.get(name)
        if children is None:
            children = self.per_queue[name] = (
                self.started.labels(name),
                {outcome: counter.labels(name) for outcome, counter in self.outcomes.items()},
                self.wait.labels(name),
                self.run.labels(name),
            )
        return children

    def job_ran(self, queue, outcome, enqueued_at, started, ended):
        """A job of `queue` started at `started` (epoch seconds), ended at `ended` with
        `outcome` (OUTCOMES), enqueued at `enqueued_at` (a datetime, or None)."""
        started_count, outcomes, wait, run = self.of_queue(queue)
        started_count.inc()
        outcomes[outcome].inc()
        if enqueued_at is not None:
            wait.observe(max(started - enqueued_at.timestamp(), 0.0))
        run.observe(max(ended - started, 0.0))

    def job_abandoned(self, queue):
        self.abandoned.labels(queue).inc()


def count_outages():
    """Count this process's Redis outages from now on (a server process; each of its forked
    children counts its own as prometheus_client's multiprocess mode keeps them)."""
    Metrics.of_this_process()


def worker_metrics():
    """The metrics a worker counts in, in this process."""
    return Metrics.of_this_process()


class QueueDepth:
    """A collector (prometheus_client's custom collector API): the length of each queue,
    read from Redis when scraped, so nothing is counted per job. Redis away: left out."""

    def __init__(self, connection, queue_names):
        self.connection = connection
        self.queue_names = queue_names  # a list, or an iterable read again at each scrape

    def describe(self):
        return []  # its names are its own: nothing to check against the registry's others

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
    """A registry to serve: this process's metrics, or those of every process counting in
    the shared directory (multiprocess mode), and the depth of `queue_names` on
    `connection`."""
    from prometheus_client import CollectorRegistry, multiprocess

    if shared():
        Metrics.of_this_process()  # its metrics exist, at 0, before anything is counted
        served = CollectorRegistry()
        multiprocess.MultiProcessCollector(served)
    else:
        served = CollectorRegistry()
        served.register(Collected(Metrics.of_this_process().registry))  # at 0 before the first job
    if connection is not None:
        served.register(QueueDepth(connection, queue_names))
    return served


class Collected:
    """A registry's metrics, served beside others in another registry."""

    def __init__(self, registry):
        self.registry = registry

    def describe(self):
        return []

    def collect(self):
        return self.registry.collect()


def exposition(served):
    """(body bytes, content type) of the registry `served`, in Prometheus's text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(served), CONTENT_TYPE_LATEST


def serve_metrics(port, served, host="0.0.0.0"):
    """Serve `served` at http://host:port/metrics from a thread of this process
    (prometheus_client's own server). Returns the server, or raises OSError."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=served)
    return server


def process_ended(pid):
    """A counting process ended: its live values go (prometheus_client's mark_process_dead);
    its counts stay in the sums."""
    if shared():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
