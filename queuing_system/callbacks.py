"""What the jobs tell their creators, as RQ callbacks and a progress call: each writes an
event (events.py) on the queue's stream.

Under our worker (workers.py) progress goes through the job's outbox, and the two
callbacks, in PIPELINE_SAFE, are given the worker's pipeline: the event goes to Redis in
the same step as the job's own bookkeeping. Under a stock RQ worker they write directly.
"""

import time

from rq.exceptions import AbandonedJobError

from .bookkeeping import current_outbox
from .events import (
    ABANDONED,
    COMPLETED,
    FAILED,
    PROGRESS,
    RETRYING,
    STREAM_MAXLEN,
    created_stamp,
    emit,
    stream_key,
)
from .redis_speedups import LuaScript


def report_progress(job, percent=None):
    """Kue's `job.progress(percent, 100)`: saves job.meta["progress"] (what `rq info` and
    dashboards show; `percent`, if given, is put there first) and tells the creator, in
    one round trip, or queued with our worker's next write. As Kue did, the percentage is
    a whole number from 0 to 100 (100/3 gives 33)."""
    if percent is None:
        percent = job.meta.get("progress", 0)
    percent = min(max(int(percent), 0), 100)
    job.meta["progress"] = percent

    def write(pipeline):
        pipeline.hset(job.key, "meta", job.serializer.dumps(job.meta))
        emit(pipeline, job.origin, job.id, PROGRESS, {"progress": percent}, created_stamp(job))

    outbox = current_outbox()  # None under a stock RQ worker
    if outbox is not None:
        outbox.add(write)
        return
    with job.connection.pipeline(transaction=False) as pipeline:
        write(pipeline)
        pipeline.execute()


def report_success(job, connection, result, *args, **kwargs):
    """RQ's on_success callback."""
    emit(connection, job.origin, job.id, COMPLETED, created=created_stamp(job))


# An abandoned job's outcome, claimed: written only by whoever takes its expired execution
# out of the started registry, so it cannot cross a worker that was only paused and has
# just reported the job's end (see bookkeeping's guards).
# KEYS: started registry, event stream; ARGV: job id, now, stream maxlen, event fields...
CLAIM_ABANDONED = LuaScript("""
local prefix, claimed = ARGV[1] .. ':', 0
for _, entry in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[2])) do
  if string.sub(entry, 1, #prefix) == prefix then
    claimed = claimed + redis.call('ZREM', KEYS[1], entry)
  end
end
if claimed > 0 then redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 4)) end
return claimed
""")


def error_message(error):
    """What a failure line says of `error`: its message, or its type's name when it has
    none (`failed: ` with nothing after it says nothing)."""
    return str(error) or type(error).__name__


def report_failure(job, connection, exc_type, exc_value, traceback):
    """RQ's on_failure callback: the event carries the error's message only.

    A job with retries left (RQ's Retry) is run again: its event says so, with when and
    how many more times, and the creator waits on for its final outcome. RQ calls this
    before it retries or fails the job, so `job.retries_left` still counts this retry.

    RQ also calls it, with no pipeline, for a job whose worker died mid-job
    (AbandonedJobError). Such a job is reported failed (once: see CLAIM_ABANDONED), not
    run again (its notification may already be sent), unless its creator asked for retries.
    """
    if not isinstance(exc_value, AbandonedJobError):
        kind, fields = failure_event(job, error_message(exc_value))
        emit(connection, job.origin, job.id, kind, fields, created_stamp(job))
        return
    kind, fields = failure_event(job, ABANDONED)
    fields["created"] = created_stamp(job)
    entry = ("job", job.id, "event", kind, *(str(part) for pair in fields.items() for part in pair))
    keys = (job.started_job_registry.key, stream_key(job.origin))
    CLAIM_ABANDONED(connection, keys, [job.id, time.time(), STREAM_MAXLEN, *entry])


def failure_event(job, error):
    """The kind and fields of a failed job's event: retrying (when, and how many more
    times after that) or failed."""
    if not job.should_retry:
        return FAILED, {"error": error}
    return RETRYING, {"error": error, "delay": job.get_retry_interval(), "retries_left": job.retries_left - 1}


# Callbacks that only queue writes on the connection they are given: our worker passes
# them its pipeline instead of running them apart.
PIPELINE_SAFE = frozenset({report_success, report_failure})
