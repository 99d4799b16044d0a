"""Job lifecycle events: their shape, and the bounded Redis stream per queue that holds them.

Kue published events on pub/sub: one sent while the creator was not listening was lost, and
the creator waited forever. Here workers append events to a bounded stream per queue, and a
creator reads it from a position taken before its first enqueue (as BullMQ's QueueEvents
does): nothing is lost whichever process starts first, and one job's events keep their order.

Written by our worker's steps (worker/scripts/include/events.lua), and by callbacks.py under
RQ's own worker; read by follower.py, printed by reporter.py.

An entry is one event: `job` (its id), `event` (its kind), `created` (the job's created_at,
see created_stamp) and the kind's own fields (PROGRESS: `progress`; FAILED: `error`;
RETRYING: `error`, `delay`, `retries_left`). Our worker sends a job's progress with its
next step, which is often its end: an entry then also says, in `before`, the progress the
job reported before the event that was not sent on its own (percentages, space-separated),
and stands for those progress events, then its own (entry_events): one XADD per step, not
one per event.
"""

from dataclasses import dataclass, field

from .worker import layout

STREAM_PREFIX = "queuing:events:"
# Bounded: old events are trimmed (approximately, which is cheap) once far behind any reader.
STREAM_MAXLEN = 100_000

PROGRESS = "progress"
COMPLETED = "completed"
FAILED = "failed"
RETRYING = "retrying"  # failed, and run again (Kue's "failed attempt"): not an outcome
OUTCOMES = (COMPLETED, FAILED)
KINDS = (PROGRESS, RETRYING, *OUTCOMES)
BEFORE = "before"  # an entry's field: the progress reported before its event, not sent alone
# The error of the failed event of a job whose worker died mid-job.
ABANDONED = "Job abandoned: its worker stopped before finishing it"


# The failed event of a job its creator waits for that Redis no longer has (deleted,
# evicted, lost in a restart or a FLUSHALL), or whose id another job now has.
VANISHED = "Job lost: Redis no longer has it (deleted, evicted, or lost when Redis restarted)"


@dataclass(frozen=True)
class Event:
    job_id: str
    kind: str  # one of KINDS
    progress: int = 0
    error: str = ""
    delay: int = 0  # retrying: seconds until the next attempt
    retries_left: int = 0  # retrying: how many more times it may run after the next attempt
    # The job's created_at as RQ keeps it (see created_stamp), "" if unsaid: which job
    # of that id, not what happened to it (two events of one kind compare equal).
    created: str = field(default="", compare=False)

    def belongs_to(self, stamps):
        """Whether this is an event of one of the jobs `stamps` ({job id: its created
        stamp, None if not known}). Ids repeat after a data loss (the counter starts at 1
        again): the stamp tells the job that had the id from the one that has it now."""
        if self.job_id not in stamps:
            return False
        created = stamps[self.job_id]
        return not created or not self.created or self.created == created


def created_stamp(job):
    """A job's created_at as RQ writes it in the job's hash (`2026-11-24T06:30:00.123456Z`):
    with the id, what tells one job from another that got the same id after a data loss."""
    return layout.timestamp_text(job.created_at) if job.created_at else layout.now_text()


def stamps_of(jobs):
    """{job id: created_stamp} of `jobs`, RQ jobs or their ids (an id's stamp: None)."""
    return {
        getattr(job, "id", job): created_stamp(job) if hasattr(job, "created_at") else None for job in jobs
    }


def stream_key(queue_name):
    return STREAM_PREFIX + queue_name


def emit(connection, queue_name, job_id, kind, fields=None, created=""):
    """Append a `kind` event of the job `job_id` (created at `created`: created_stamp) to
    the queue's stream."""
    connection.xadd(
        stream_key(queue_name),
        {"job": job_id, "event": kind, "created": created, **(fields or {})},
        maxlen=STREAM_MAXLEN,
        approximate=True,
    )


def failure_event(job, error):
    """The kind and fields of a failed job's event: retrying (when, and how many more
    times after that) if it has retries left (RQ's should_retry), else failed."""
    if not job.should_retry:
        return FAILED, {"error": error}
    return RETRYING, {"error": error, "delay": job.get_retry_interval(), "retries_left": job.retries_left - 1}


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
    return Event(fields["job"], kind, progress, error, delay, left, fields.get("created", ""))


def entry_events(fields):
    """The events a stream entry stands for: the progress it says came before (BEFORE),
    then its own; or UnreadableEvent."""
    event = parse(fields)
    before = fields.get(BEFORE.encode(), fields.get(BEFORE))
    if not before:
        return [event]
    try:
        percents = [int(percent) for percent in decode(before).split()]
    except (UnicodeDecodeError, ValueError) as error:
        raise UnreadableEvent(f"{error!r}") from None
    if not all(0 <= percent <= 100 for percent in percents):
        raise UnreadableEvent(f"not an event of ours: {fields!r}")
    return [Event(event.job_id, PROGRESS, percent, created=event.created) for percent in percents] + [event]
