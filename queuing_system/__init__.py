"""What RQ, redis-py and Flask lack and the queuing-system exercise needs: the one public
surface of this package, and all that the numbered scripts import of it.

The scripts make their own redis-py clients, RQ queues, jobs and Flask apps. From here
they take what those libraries do not have, in the vocabulary of RQ and of Kue (the
original's job queue):

- the connection policy: where Redis is, the spec's connected / not-connected lines,
  retrying with back-off, and one clean exit for Ctrl-C, SIGTERM and a lost server;
- Kue's jobs on RQ: integer ids from one counter shared by every queue, a batch saved
  whole and once, the callbacks and progress calls that tell the creator how its jobs
  went, and the job events a creator follows from before its first enqueue;
- the safe worker: RQ workers that run only their queue's job functions, in a pool of
  processes (Kue's `queue.process(name, n, fn)`) or on an app's thread;
- the apps' rules: JSON only, served by our HTTP server, and the atomic check-and-take
  steps that never sell a unit twice.

Everything else in the package is free to move: import it from here.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what editors and type checkers read; at run time, __getattr__ below
    from .callbacks import report_failure, report_progress, report_success
    from .connection import (
        CONNECTED,
        connect_for_jobs,
        make_client,
        make_jobs_client,
        not_connected,
        redis_url,
        retry_delays,
        wait_until_connected,
        wait_until_connected_async,
        worth_retrying,
    )
    from .console import inform, print_reply, say
    from .events import COMPLETED, FAILED, PROGRESS, RETRYING
    from .follower import EventFollower as JobEvents
    from .jobs import (
        FAILURE_TTL,
        JOB_TIMEOUT,
        JobFailed,
        Timing,
        add_timing_arguments,
        check_notifications,
        create_jobs,
        enqueue_many_at,
        notification,
        reserve_job_ids,
        saved_once,
    )
    from .logs import add_log_arguments
    from .reporter import JobReporter as JobListener
    from .reporter import Reporters as JobListeners
    from .reporter import event_line, retry_words
    from .shutdown import run
    from .web.app import add_address_arguments, on_shutdown, serve, use_json
    from .web.reservations import take_one, take_seat
    from .web.sale import Sale
    from .worker.pool import BackgroundWorker, WorkerPool, add_workers_argument

# Where each name lives (imported on first use: a script loads only what it takes).
_WHERE = {
    "report_failure": ("callbacks", "report_failure"),
    "report_progress": ("callbacks", "report_progress"),
    "report_success": ("callbacks", "report_success"),
    "CONNECTED": ("connection", "CONNECTED"),
    "connect_for_jobs": ("connection", "connect_for_jobs"),
    "make_client": ("connection", "make_client"),
    "make_jobs_client": ("connection", "make_jobs_client"),
    "not_connected": ("connection", "not_connected"),
    "redis_url": ("connection", "redis_url"),
    "retry_delays": ("connection", "retry_delays"),
    "wait_until_connected": ("connection", "wait_until_connected"),
    "wait_until_connected_async": ("connection", "wait_until_connected_async"),
    "worth_retrying": ("connection", "worth_retrying"),
    "inform": ("console", "inform"),
    "print_reply": ("console", "print_reply"),
    "say": ("console", "say"),
    "COMPLETED": ("events", "COMPLETED"),
    "FAILED": ("events", "FAILED"),
    "PROGRESS": ("events", "PROGRESS"),
    "RETRYING": ("events", "RETRYING"),
    "JobEvents": ("follower", "EventFollower"),
    "FAILURE_TTL": ("jobs", "FAILURE_TTL"),
    "JOB_TIMEOUT": ("jobs", "JOB_TIMEOUT"),
    "JobFailed": ("jobs", "JobFailed"),
    "Timing": ("jobs", "Timing"),
    "add_timing_arguments": ("jobs", "add_timing_arguments"),
    "check_notifications": ("jobs", "check_notifications"),
    "create_jobs": ("jobs", "create_jobs"),
    "enqueue_many_at": ("jobs", "enqueue_many_at"),
    "notification": ("jobs", "notification"),
    "reserve_job_ids": ("jobs", "reserve_job_ids"),
    "saved_once": ("jobs", "saved_once"),
    "add_log_arguments": ("logs", "add_log_arguments"),
    "JobListener": ("reporter", "JobReporter"),
    "JobListeners": ("reporter", "Reporters"),
    "event_line": ("reporter", "event_line"),
    "retry_words": ("reporter", "retry_words"),
    "take_one": ("web.reservations", "take_one"),
    "take_seat": ("web.reservations", "take_seat"),
    "Sale": ("web.sale", "Sale"),
    "run": ("shutdown", "run"),
    "add_address_arguments": ("web.app", "add_address_arguments"),
    "on_shutdown": ("web.app", "on_shutdown"),
    "serve": ("web.app", "serve"),
    "use_json": ("web.app", "use_json"),
    "BackgroundWorker": ("worker.pool", "BackgroundWorker"),
    "WorkerPool": ("worker.pool", "WorkerPool"),
    "add_workers_argument": ("worker.pool", "add_workers_argument"),
}


def __getattr__(name):
    try:
        module, attribute = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    globals()[name] = value  # found at once next time
    return value


def __dir__():
    return sorted(__all__)


__all__ = [
    # where Redis is, and saying whether it answers
    "CONNECTED",
    "connect_for_jobs",
    "make_client",
    "make_jobs_client",
    "not_connected",
    "redis_url",
    "retry_delays",
    "wait_until_connected",
    "wait_until_connected_async",
    "worth_retrying",
    # what a script prints, and how it stops
    "add_log_arguments",
    "inform",
    "print_reply",
    "run",
    "say",
    # Kue's jobs on RQ
    "FAILURE_TTL",
    "JOB_TIMEOUT",
    "JobFailed",
    "Timing",
    "add_timing_arguments",
    "check_notifications",
    "create_jobs",
    "enqueue_many_at",
    "notification",
    "report_failure",
    "report_progress",
    "report_success",
    "reserve_job_ids",
    "saved_once",
    # the job events a creator hears
    "COMPLETED",
    "FAILED",
    "PROGRESS",
    "RETRYING",
    "JobEvents",
    "JobListener",
    "JobListeners",
    "event_line",
    "retry_words",
    # the safe worker
    "BackgroundWorker",
    "WorkerPool",
    "add_workers_argument",
    # the apps
    "Sale",
    "add_address_arguments",
    "on_shutdown",
    "serve",
    "take_one",
    "take_seat",
    "use_json",
]
