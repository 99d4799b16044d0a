"""What becomes of a job that failed: decided here, once, for the job that failed in a
worker's hands (fail.lua) and for the job whose worker died (abandon.lua); written by one
Lua include (scripts/include/failure.lua) for both.

It is RQ's decision: a job with retries left is retried (RQ's Job.retry: at once, at the
back of its queue or at its front, or after its interval from the scheduled registry),
else it fails (RQ's handle_job_failure: kept failure_ttl seconds, its result as RQ keeps
it). Its creator hears the same: `retrying` (when, and how many retries are left) or
`failed`, as events.failure_event says it under RQ's own worker.
"""

import math

from rq.defaults import DEFAULT_FAILURE_TTL

from .. import layout
from ..events import RETRYING, failure_event


def failure_arguments(job, now, now_text, failure):
    """(the kind of the job's event, failed or retrying, and [becomes, a, b, kept,
    exc_string, delay]: the scripts' arguments, as fail.lua says them) of `job` failing at
    `now` (epoch seconds; `now_text` its RQ text) with `failure` (what its result records:
    a traceback, or a line)."""
    event = failure_event(job, "")
    kind = event["event"]
    if kind == RETRYING:
        left, delay = event["retries_left"], event["delay"]
        if delay:
            due = math.ceil(now + delay)  # RQ rounds down: a retry would come early
            return RETRYING, ["scheduled", left, due, "", "", delay]
        becomes = "queued_front" if job.enqueue_at_front_on_retry else "queued"
        return RETRYING, [becomes, left, now_text, "", "", 0]
    ttl = DEFAULT_FAILURE_TTL if job.failure_ttl is None else job.failure_ttl
    score = ttl if ttl < 0 else int(now) + ttl
    kept = "" if job.failure_ttl is None else job.failure_ttl
    return kind, ["failed", ttl, score, kept, layout.compressed_text(failure), ""]
