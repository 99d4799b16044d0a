"""Processing a queue N jobs at a time, as Kue's `queue.process(type, n, fn)` did.

Each of the N is a child process running one worker (workers.work). The parent only
supervises: it forwards SIGTERM/SIGINT to the children, which finish the job in hand and
leave the rest queued, replaces a child that ended on its own, and exits 0 on SIGTERM,
130 on Ctrl-C, within STOP_DEADLINE seconds whatever Redis is doing: a child still running
by then is killed (its job, if any, is reported abandoned later).
"""

import argparse
import os

from .connection import connect_for_jobs
from .jobs import integer_at_least
from .processes import run_children
from .workers import RESTART_DELAY, work

WORKERS_ENV = "WORKERS"  # the number of workers, when the command line does not say it


def worker_count(default, argv=None):
    """How many workers to run: `--workers N` on the command line, else $WORKERS, else
    `default`, as pm2's `--instances N` scaled the original's processors. A bad value
    ends the script with argparse's one-line error and exit code 2."""
    parser = argparse.ArgumentParser(description="Process a queue's jobs, N at a time, until stopped.")
    parser.add_argument(
        "--workers",
        type=integer_at_least(1, "positive integer"),
        default=os.environ.get(WORKERS_ENV, str(default)),
        help=f"worker processes (default: ${WORKERS_ENV}, else {default})",
    )
    return parser.parse_args(argv).workers


def run_workers(job_functions, count):
    """Run `count` workers on the queues of `job_functions` ({queue name: the import path of
    its job function}: nothing else runs) until SIGTERM/SIGINT; return the exit code."""
    # Once here, so a wrong password or a bad REDIS_URL is said once, not once per child.
    connect_for_jobs().close()
    return run_children(lambda: work(job_functions), count, "worker", RESTART_DELAY)
