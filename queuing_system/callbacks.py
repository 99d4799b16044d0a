"""The RQ callbacks that tell a job's creator how it ended: each writes an event (events.py)
on the queue's stream, which the creator's EventFollower reads. A creator names them
through its follower, `Callback(qs.EventFollower.report_success)`; RQ stores them by their
own path, `queuing_system.callbacks.report_success`, which every worker of ours knows.

Under a stock RQ worker they write their event at once. Under ours (worker/), a job naming
them (events.CALLBACKS) has its event written by the worker itself, in the step that ends
the job, with the job's own writes.
"""

import time

from rq.exceptions import AbandonedJobError

from . import lua
from .events import ABANDONED, emit, error_message, failure_event, stream_key, success_event


def report_success(job, connection, result, *args, **kwargs):
    """RQ's on_success callback: tells the job's follower it completed (Kue's
    job.on('complete'))."""
    emit(connection, job.origin, success_event(job))


def report_failure(job, connection, exc_type, exc_value, traceback):
    """RQ's on_failure callback: tells the job's follower it failed (Kue's
    job.on('failed')), with the error's message only.

    A job with retries left (RQ's Retry) is run again: its event says so, with when and
    how many more times, and the follower waits on for its final outcome. RQ calls this
    before it retries or fails the job, so `job.retries_left` still counts this retry.

    RQ's own worker also calls it, with no pipeline, for a job whose worker died mid-job
    (AbandonedJobError). Such a job is reported failed (once: see claim_abandoned.lua), not
    run again (its notification may already be sent), unless its creator asked for retries.
    Our worker reports those itself (worker/maintenance.py).
    """
    if not isinstance(exc_value, AbandonedJobError):
        emit(connection, job.origin, failure_event(job, error_message(exc_value)))
        return
    event = failure_event(job, ABANDONED)
    keys = (job.started_job_registry.key, stream_key(job.origin))
    retry = [event.get("delay", ""), event.get("retries_left", "")]
    lua.CLAIM_ABANDONED(
        connection, keys, [job.id, time.time(), event["event"], event["created"], event["error"], *retry]
    )
