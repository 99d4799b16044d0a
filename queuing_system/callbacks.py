"""What the jobs tell their creators, as RQ callbacks and a progress call: each writes an
event (events.py) on the queue's stream.

Under a stock RQ worker they write it at once. Under ours (worker/), a job's progress waits
to go to Redis with the job's end (rq_job.ProgressJob), and the worker, seeing a job name
these callbacks (events.CALLBACKS), writes their event itself in the step that ends the
job, with the job's own writes.
"""

import time

from rq.exceptions import AbandonedJobError

from . import lua
from .events import ABANDONED, emit, error_message, failure_event, progress_event, stream_key, success_event
from .rq_job import ProgressJob


def report_progress(job, percent=None):
    """Kue's `job.progress(percent, 100)`: saves job.meta["progress"] (what `rq info` and
    dashboards show; `percent`, if given, is put there first) and tells the creator, in
    one round trip, or with our worker's next step. As Kue did, the percentage is a whole
    number from 0 to 100 (100/3 gives 33)."""
    if percent is None:
        percent = job.meta.get("progress", 0)
    percent = min(max(int(percent), 0), 100)
    job.meta["progress"] = percent
    progress = job.progress if isinstance(job, ProgressJob) else None  # None under a stock RQ worker
    if progress is not None:
        progress.add(job, percent)
        return
    with job.connection.pipeline(transaction=False) as pipeline:
        pipeline.hset(job.key, "meta", job.serializer.dumps(job.meta))
        emit(pipeline, job.origin, progress_event(job, percent))
        pipeline.execute()


def report_success(job, connection, result, *args, **kwargs):
    """RQ's on_success callback."""
    emit(connection, job.origin, success_event(job))


def report_failure(job, connection, exc_type, exc_value, traceback):
    """RQ's on_failure callback: the event carries the error's message only.

    A job with retries left (RQ's Retry) is run again: its event says so, with when and
    how many more times, and the creator waits on for its final outcome. RQ calls this
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
