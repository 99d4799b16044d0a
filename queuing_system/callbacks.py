"""What the jobs tell their creators, as RQ callbacks and a progress call: each writes an
event (events.py) on the queue's stream.

Under our worker (queuing_system.worker) a job's progress waits to go to Redis with the
job's end, and the worker writes the event these two callbacks would write itself (the
same, from events.py), with the job's own writes, in one step. Under a stock RQ worker they
write directly.
"""

import time

from rq.exceptions import AbandonedJobError

from .events import ABANDONED, COMPLETED, PROGRESS, created_stamp, emit, failure_event, stream_key
from .worker import lua
from .worker.job import WorkerJob


def report_progress(job, percent=None):
    """Kue's `job.progress(percent, 100)`: saves job.meta["progress"] (what `rq info` and
    dashboards show; `percent`, if given, is put there first) and tells the creator, in
    one round trip, or with our worker's next step. As Kue did, the percentage is a whole
    number from 0 to 100 (100/3 gives 33)."""
    if percent is None:
        percent = job.meta.get("progress", 0)
    percent = min(max(int(percent), 0), 100)
    job.meta["progress"] = percent

    progress = job.progress if isinstance(job, WorkerJob) else None  # None under a stock RQ worker
    if progress is not None:
        progress.add(job, percent)
        return
    with job.connection.pipeline(transaction=False) as pipeline:
        pipeline.hset(job.key, "meta", job.serializer.dumps(job.meta))
        emit(pipeline, job.origin, job.id, PROGRESS, {"progress": percent}, created_stamp(job))
        pipeline.execute()


def report_success(job, connection, result, *args, **kwargs):
    """RQ's on_success callback."""
    emit(connection, job.origin, job.id, COMPLETED, created=created_stamp(job))


def error_message(error):
    """What a failure line says of `error`: its message, or its type's name when it has
    none (`failed: ` with nothing after it says nothing)."""
    return str(error) or type(error).__name__


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
        kind, fields = failure_event(job, error_message(exc_value))
        emit(connection, job.origin, job.id, kind, fields, created_stamp(job))
        return
    kind, fields = failure_event(job, ABANDONED)
    keys = (job.started_job_registry.key, stream_key(job.origin))
    retry = [fields.get("delay", ""), fields.get("retries_left", "")]
    event = [kind, created_stamp(job), fields["error"], *retry]
    lua.CLAIM_ABANDONED(connection, keys, [job.id, time.time(), *event])


# Their import paths, as jobs name them (rq.Callback(report_success).name)
NAMES = {"success": f"{__name__}.report_success", "failure": f"{__name__}.report_failure"}
