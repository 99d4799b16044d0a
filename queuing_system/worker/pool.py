"""Running workers: N at a time in processes of their own (WorkerPool, as Kue's
`queue.process(type, n, fn)` did), one on a thread of an app (BackgroundWorker), or once
over what is queued now (drain).

QUEUING_WORKER=rq runs RQ's own SimpleWorker instead of ours, in the same processes: to
compare the two, or to fall back. It keeps the output and the events (our callbacks are
RQ callbacks), and loses what ours adds: the allowed job functions (any importable function
named by a job runs), one round trip per job (RQ's makes 23), stops only at safe points,
the quiet waiting for Redis.
"""

import atexit
import logging
import os
import sys
import threading

from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer
from rq.timeouts import JobTimeoutException, TimerDeathPenalty

from .. import metrics
from ..connection import keep_trying, make_client, wait_until_connected, worth_retrying
from ..console import debugging, inform, integer_at_least, warn
from ..metrics import worker_metrics
from ..processes import run_children
from ..shutdown import EXIT_FAILED, on_shutdown
from .core import StopRequest, Worker

RESTART_DELAY = 1.0  # seconds before replacing a worker that gave up
EXIT_PATIENCE = 3.0  # seconds a background worker may take at exit to finish its job
METRICS_PORT_ENV = "METRICS_PORT"
METRICS_HOST_ENV = "METRICS_HOST"  # the address metrics are served on
METRICS_HOST = "127.0.0.1"
WORKER_ENV = "QUEUING_WORKER"
WORKERS_ENV = "WORKERS"  # the number of workers, when the command line does not say it


def rqs_own_worker_chosen():
    return os.environ.get(WORKER_ENV) == "rq"


def make_worker(job_functions, connection, worker_class=None, **options):
    """A worker for the queues of `job_functions` ({queue name: the import path of its job
    function, or several}), running those functions only (RQ's own, if chosen: see
    WORKER_ENV, runs any)."""
    if worker_class is None and rqs_own_worker_chosen():  # `options` are ours: not for it
        queues = [Queue(name, connection=connection, serializer=JSONSerializer) for name in job_functions]
        return SimpleWorker(queues, connection=connection, serializer=JSONSerializer)
    allowed = {
        name: frozenset([functions] if isinstance(functions, str) else functions)
        for name, functions in job_functions.items()
    }
    queues = [Queue(name, connection=connection, serializer=JSONSerializer) for name in allowed]
    return (worker_class or Worker)(queues, connection, job_functions=allowed, **options)


def work(job_functions, connection=None, counting=False):
    """One worker in this process on `connection` (default: REDIS_URL's), until SIGTERM or
    SIGINT, counting its jobs in the metrics if `counting`. A worker cut off from Redis as
    it starts (registering) is replaced once Redis answers."""
    quiet_rq_logging()
    if connection is None:
        connection = make_client(decode_responses=False)
    wait_until_connected(connection, quiet=True)
    stopping = StopRequest()
    counted = {"metrics": worker_metrics()} if counting else {}

    def one_worker():
        if not stopping.is_set():
            worker = make_worker(job_functions, connection, stopping=stopping, **counted)
            worker.work(logging_level=log_level())

    try:
        keep_trying(one_worker, stopping, stop_patience=0, answers=False)
    except Exception as error:
        if not worth_retrying(error):
            raise  # a fatal error: the process says it and ends (processes.spawn)
    finally:
        if counting:
            counted["metrics"].write()  # its last counts: a child ends by os._exit, no atexit


def drain(job_functions, connection):
    """Process every job queued now, in this process (RQ's burst mode): for tests and tools."""
    quiet_rq_logging()
    make_worker(job_functions, connection).work(burst=True, logging_level=log_level())


def add_workers_argument(parser, default):
    """`--workers N`: how many jobs at a time, else $WORKERS, else `default` (as pm2's
    `--instances N` scaled the original's processors); `--metrics-port PORT`: serve
    Prometheus metrics there (else $METRICS_PORT; none by default). A bad value ends the
    script with argparse's one-line error and exit code 2. Returns `parser`."""
    parser.add_argument(
        "--workers",
        type=integer_at_least(1, "positive integer"),
        default=os.environ.get(WORKERS_ENV, str(default)),
        help=f"jobs processed at a time, one worker process each (default: ${WORKERS_ENV}, else {default})",
    )
    parser.add_argument(
        "--metrics-port",
        type=integer_at_least(1, "port number"),
        default=os.environ.get(METRICS_PORT_ENV) or None,
        help=f"serve Prometheus metrics at http://${METRICS_HOST_ENV}:PORT/metrics "
        f"(default: ${METRICS_PORT_ENV}, else none; ${METRICS_HOST_ENV} defaults to {METRICS_HOST})",
    )
    return parser


def run_workers(job_functions, count, connection=None, metrics_port=None):
    """Run `count` workers on the queues of `job_functions` ({queue name: the import path of
    its job function}: nothing else runs) until SIGTERM/SIGINT; return the exit code. Each
    connects as `connection` does (redis-py's pool starts afresh in a forked child), by
    default to REDIS_URL. With `metrics_port`, they count their jobs, served there."""
    # Once here, so a wrong password or a bad REDIS_URL is said once, not once per child.
    if connection is None:
        wait_until_connected(make_client(decode_responses=False), quiet=True).close()
    else:
        wait_until_connected(connection, quiet=True)
    counting = metrics_port is not None
    if counting:
        metrics.share_between_processes()  # before the workers are forked
        host = os.environ.get(METRICS_HOST_ENV, METRICS_HOST)
        served = metrics.registry(connection or make_client(decode_responses=False), list(job_functions))
        try:
            metrics.serve_metrics(metrics_port, served, host)
        except OSError as error:
            warn(f"Cannot serve metrics on {host}:{metrics_port}: {error}")
            return EXIT_FAILED
        inform(f"Metrics on http://{host}:{metrics_port}/metrics")
    return run_children(lambda: work(job_functions, connection, counting), count, "worker", RESTART_DELAY)


class WorkerPool:
    """RQ's WorkerPool, ours: `num_workers` worker processes on `queues` (RQ Queues), each
    running one job at a time, until SIGTERM or Ctrl-C. They run only the job functions
    named in `job_functions` (import paths, "7_job_processor.process"): a job naming
    anything else fails, never imported. start() returns the exit code."""

    def __init__(self, queues, connection, num_workers=1, job_functions=(), metrics_port=None):
        self.queues = list(queues)
        self.connection = connection
        self.num_workers = num_workers
        self.job_functions = {queue.name: tuple(job_functions) for queue in self.queues}
        self.metrics_port = metrics_port  # serve Prometheus metrics on this port (None: count nothing)

    def start(self):
        wait_until_connected(self.connection, quiet=True)  # a wrong password said once, first
        names = ", ".join(queue.name for queue in self.queues)
        at_a_time = "1 job" if self.num_workers == 1 else f"{self.num_workers} jobs"
        inform(f"Processing {names}, {at_a_time} at a time (Ctrl-C to stop)")
        return run_workers(self.job_functions, self.num_workers, self.connection, self.metrics_port)


class ThreadDeathPenalty(TimerDeathPenalty):
    """RQ's TimerDeathPenalty, which rewrites the message of the exception class it is given
    for the whole process: JobTimeoutException then named the last timeout set anywhere.
    Each penalty gets its own subclass (still caught as JobTimeoutException)."""

    def __init__(self, timeout, exception=JobTimeoutException, **kwargs):
        own = type(exception.__name__, (exception,), {"__module__": exception.__module__})
        super().__init__(timeout, own, **kwargs)


class ThreadWorker(Worker):
    """A worker on a thread of a server process, whose main thread owns the signals: it
    stops when its owner sets `stopping`. SIGALRM cannot time out a job off the main
    thread: a timer does."""

    death_penalty_class = ThreadDeathPenalty


class WorkerThread(threading.Thread):
    """Processes queues on a background thread of a server process until stop(). A worker
    that gives up (Redis away as it starts, a bug) is replaced after RESTART_DELAY."""

    def __init__(self, job_functions, connection):
        super().__init__(name="rq-worker", daemon=True)
        self.job_functions = job_functions
        self.connection = connection
        self.stopping = threading.Event()

    def run(self):
        quiet_rq_logging()

        counted = worker_metrics()  # the app serves them at /metrics

        def one_worker():
            make_worker(
                self.job_functions, self.connection, ThreadWorker, stopping=self.stopping, metrics=counted
            ).work()

        while not self.stopping.is_set():
            try:
                keep_trying(one_worker, self.stopping, stop_patience=0, answers=False)
                return
            except Exception as error:  # the thread must outlive one worker's failure
                if self.stopping.is_set() and worth_retrying(error):
                    return  # Redis away as it stops: what was unsent is said, nothing restarts
                warn(f"background worker stopped: {error!r}; starting another")
                self.stopping.wait(RESTART_DELAY)

    def stop(self, timeout=None):
        """Finish the job in hand (within STOP_POLL seconds when idle), then end the thread,
        waited for `timeout` seconds (None: until then). Asked again, it does not wait: the
        first stop waited, or gave up waiting (Redis frozen, say)."""
        asked_before = self.stopping.is_set()
        self.stopping.set()
        if self.is_alive() and not asked_before:
            self.join(timeout)


class BackgroundWorker:
    """A worker on `queues` (RQ Queues), on a thread of this process, started by the first
    start() (later calls do nothing) and stopped by stop(), which lets it finish its job.
    It runs only the job functions named in `job_functions` (import paths)."""

    def __init__(self, queues, connection, job_functions=()):
        self.job_functions = {queue.name: tuple(job_functions) for queue in queues}
        self.connection = connection
        self.lock = threading.Lock()
        self.thread = None

    def init_app(self, app):
        """Stop with the Flask `app`'s server, letting the job in hand finish. Returns the worker."""
        on_shutdown(app, self.stop)
        return self

    def start(self):
        with self.lock:
            if self.thread is None:
                self.thread = WorkerThread(self.job_functions, self.connection)
                self.thread.start()
                # Under a WSGI server that runs no on_shutdown; a no-op after serve()'s stop
                atexit.register(self.stop, EXIT_PATIENCE)

    def stop(self, timeout=None):
        with self.lock:  # not held while it waits: a second stop (at exit) must not wait on it
            thread = self.thread
        if thread is not None:
            thread.stop(timeout)


def log_level():
    return logging.DEBUG if debugging() else logging.WARNING


class OneLineFormatter(logging.Formatter):
    """A log record on one line: the exception's message instead of its traceback."""

    def format(self, record):
        if record.exc_info and not debugging():
            error = record.exc_info[1]
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
            record.msg = f"{record.getMessage()} ({error!r})"
            record.args = None
        return super().format(record)


def quiet_rq_logging():
    """Route RQ's loggers (its scheduler and registries here; all of RQ's own worker) to
    stderr; by default only warnings and errors, one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(asctime)s %(name)s %(message)s"))
    logger = logging.getLogger("rq")
    logger.handlers[:] = [handler]
    logger.setLevel(log_level())
    logger.propagate = False
