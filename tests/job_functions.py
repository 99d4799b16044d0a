"""Job functions for the worker tests, referenced by string as RQ jobs are."""

import time

from rq import get_current_job

from queuing_system.events import CALLBACKS
from queuing_system.progress import report_progress
from queuing_system.worker.job import AllowlistJob


def slow_with_progress(data):
    """Reports progress, then keeps working: the progress must be out before it ends."""
    report_progress(get_current_job(), 50)
    time.sleep(data["seconds"])
    return data["seconds"]


def record(data):
    """Appends its name to a list, to check the order jobs ran in."""
    get_current_job().connection.rpush("test:ran", data["name"])


def sleep(data):
    time.sleep(data["seconds"])


def note_success(job, connection, result, *args, **kwargs):
    """A plain RQ success callback (not pipeline-safe): it runs on a real connection."""
    connection.rpush("test:callbacks", job.id)


def fail_silently(data):
    """Fails with an error that has no message."""
    raise LookupError()


LOOKS = []  # what look() calls: set by a test running the worker in its own process


def look(data):
    """Calls what the test put in LOOKS, while the job runs."""
    for each in LOOKS:
        each()


class OnlyRecord(AllowlistJob):
    """A custom job class for a stock `rq worker --job-class`: on queue only_record, only
    record() runs, with our callbacks only."""

    job_functions = {"only_record": frozenset({"tests.job_functions.record"})}
    callbacks = frozenset(CALLBACKS.values())


def misspelt(data):
    """A job with a bug of its own, as a learner writes one."""
    return phone_numbr  # noqa: F821 - the bug
