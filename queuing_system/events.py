"""Job lifecycle events: their shape, and the bounded Redis stream per queue that holds them.

Kue published events on pub/sub: one sent while the creator was not listening was lost, and
the creator waited forever. Here workers append events to a bounded stream per queue, and a
creator reads it from a position taken before its first enqueue (as BullMQ's QueueEvents
does): nothing is lost whichever process starts first, and one job's events keep their order.

Written by callbacks.py (run by the workers), read by follower.py, printed by reporter.py.
"""

from dataclasses import dataclass

STREAM_PREFIX = "queuing:events:"
# Bounded: old events are trimmed (approximately, which is cheap) once far behind any reader.
STREAM_MAXLEN = 100_000

PROGRESS = "progress"
COMPLETED = "completed"
FAILED = "failed"
RETRYING = "retrying"  # failed, and run again (Kue's "failed attempt"): not an outcome
OUTCOMES = (COMPLETED, FAILED)
KINDS = (PROGRESS, RETRYING, *OUTCOMES)
# The error of the failed event of a job whose worker died mid-job.
ABANDONED = "Job abandoned: its worker stopped before finishing it"


@dataclass(frozen=True)
class Event:
    job_id: str
    kind: str  # one of KINDS
    progress: int = 0
    error: str = ""
    delay: int = 0  # retrying: seconds until the next attempt
    retries_left: int = 0  # retrying: how many more times it may run after the next attempt


def stream_key(queue_name):
    return STREAM_PREFIX + queue_name


def emit(connection, queue_name, job_id, kind, fields=None):
    connection.xadd(
        stream_key(queue_name),
        {"job": job_id, "event": kind, **(fields or {})},
        maxlen=STREAM_MAXLEN,
        approximate=True,
    )


def last_event_id(connection, queue_name):
    """The position to follow from: everything after it is new."""
    newest = connection.xrevrange(stream_key(queue_name), count=1)
    return newest[0][0] if newest else "0-0"


def decode(value):
    return value.decode() if isinstance(value, bytes) else value


class UnreadableEvent(ValueError):
    """A stream entry that is not an event we write (anyone can XADD to the stream)."""


def parse(fields):
    """The Event of a stream entry, or UnreadableEvent."""
    try:
        fields = {decode(key): decode(value) for key, value in fields.items()}
        kind = fields["event"]
        progress, delay, left = (int(fields.get(name, 0)) for name in ("progress", "delay", "retries_left"))
    except (UnicodeDecodeError, KeyError, ValueError) as error:
        raise UnreadableEvent(f"{error!r}") from None
    if kind not in KINDS or not 0 <= progress <= 100 or min(delay, left) < 0 or "job" not in fields:
        raise UnreadableEvent(f"not an event of ours: {fields!r}")
    error = fields.get("error", "")
    return Event(fields["job"], kind, progress, error, delay, left)
