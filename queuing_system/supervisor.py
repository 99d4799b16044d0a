"""Processing a queue N jobs at a time, as Kue's `queue.process(type, n, fn)` did.

Each of the N is a child process running one worker (workers.work). The parent only
supervises: it forwards SIGTERM/SIGINT to the children, which finish the job in hand and
leave the rest queued, replaces a child that ended on its own, and exits 0 on SIGTERM,
130 on Ctrl-C, within STOP_DEADLINE seconds whatever Redis is doing: a child still running
by then is killed (its job, if any, is reported abandoned later).
"""

import os

from .connection import connect_for_jobs, wait_until_connected
from .console import inform
from .jobs import integer_at_least
from .processes import run_children
from .workers import RESTART_DELAY, work

WORKERS_ENV = "WORKERS"  # the number of workers, when the command line does not say it


def add_workers_argument(parser, default):
    """`--workers N`: how many jobs at a time, else $WORKERS, else `default` (as pm2's
    `--instances N` scaled the original's processors). A bad value ends the script with
    argparse's one-line error and exit code 2."""
    parser.add_argument(
        "--workers",
        type=integer_at_least(1, "positive integer"),
        default=os.environ.get(WORKERS_ENV, str(default)),
        help=f"jobs processed at a time, one worker process each (default: ${WORKERS_ENV}, else {default})",
    )
    return parser


def run_workers(job_functions, count, connection=None):
    """Run `count` workers on the queues of `job_functions` ({queue name: the import path of
    its job function}: nothing else runs) until SIGTERM/SIGINT; return the exit code. Each
    connects as `connection` does (redis-py's pool starts afresh in a forked child), by
    default to REDIS_URL."""
    # Once here, so a wrong password or a bad REDIS_URL is said once, not once per child.
    if connection is None:
        connect_for_jobs().close()
    else:
        wait_until_connected(connection, quiet=True)
    return run_children(lambda: work(job_functions, connection), count, "worker", RESTART_DELAY)


class WorkerPool:
    """RQ's WorkerPool, ours: `num_workers` worker processes on `queues` (RQ Queues), each
    running one job at a time, until SIGTERM or Ctrl-C. They run only the job functions
    named in `job_functions` (import paths, "7_job_processor.process"): a job naming
    anything else fails, never imported. start() returns the exit code."""

    def __init__(self, queues, connection, num_workers=1, job_functions=()):
        self.queues = list(queues)
        self.connection = connection
        self.num_workers = num_workers
        self.job_functions = {queue.name: tuple(job_functions) for queue in self.queues}

    def start(self):
        names = ", ".join(queue.name for queue in self.queues)
        at_a_time = "1 job" if self.num_workers == 1 else f"{self.num_workers} jobs"
        inform(f"Processing {names}, {at_a_time} at a time (Ctrl-C to stop)")
        return run_workers(self.job_functions, self.num_workers, self.connection)
