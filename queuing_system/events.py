"""Job lifecycle events: their shape, and the bounded Redis stream per queue that holds them.

Kue published events on pub/sub: one sent while the creator was not listening was lost, and
the creator waited forever. Here workers append events to a bounded stream per queue, and a
creator reads it from a position taken before its first enqueue (as BullMQ's QueueEvents
does): nothing is lost whichever process starts first, and one job's events keep their order.

Each event is made here, by a plain function (progress_event, success_event,
failure_event), and written by emit under RQ's own worker (callbacks.py, progress.py), or by our
worker's steps with the job's own writes (worker/scripts/include/events.lua); read by
follower.py, printed by reporter.py.

An entry is one event: `job` (its id), `event` (its kind), `created` (the job's created_at,
see created_stamp) and the kind's own fields (PROGRESS: `progress`; FAILED: `error`;
RETRYING: `error`, `delay`, `retries_left`). Our worker sends a job's progress with its
next step, which is often its end: an entry then also says, in `before`, the progress the
job reported before the event that was not sent on its own (percentages, space-separated),
and stands for those progress events, then its own (entry_events): one XADD per step, not
one per event.
"""

from dataclasses import dataclass, field

from . import layout

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


# The import paths of the callbacks that write a job's outcome event (callbacks.py), as a
# job names them: a worker that sees them writes the event (success_event, failure_event)
# in the step that ends the job, instead of calling them.
CALLBACKS = {
    "success": "queuing_system.callbacks.report_success",
    "failure": "queuing_system.callbacks.report_failure",
}
# Where those callbacks lived before events.py was split: jobs queued then name them there.
# Our workers, and any AllowlistJob, read them as their paths now.
RENAMED_CALLBACKS = {f"queuing_system.events.report_{kind}": path for kind, path in CALLBACKS.items()}


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

    def line(self, label):
        """Kue's console line for this event, e.g. `Notification job 3 50% complete` for the
        label "Notification"."""
        if self.kind == PROGRESS:
            return f"{label} job {self.job_id} {self.progress}% complete"
        if self.kind == COMPLETED:
            return f"{label} job {self.job_id} completed"
        if self.kind == RETRYING:
            return f"{label} job {self.job_id} failed, {self.retry_words()}: {self.error}"
        return f"{label} job {self.job_id} failed: {self.error}"

    def retry_words(self):
        """When a failed job runs again, e.g. `retrying in 2s, 1 retry left`."""
        when = f"in {self.delay}s" if self.delay else "now"
        left = "1 retry" if self.retries_left == 1 else f"{self.retries_left} retries"
        return f"retrying {when}, {left} left"

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


def event(job_id, kind, created="", **fields):
    """A `kind` event of the job `job_id` (created at `created`: created_stamp), as the
    stream keeps it: its fields, in order."""
    return {"job": job_id, "event": kind, "created": created, **fields}


def progress_event(job, percent):
    """Kue's `job.progress(percent, 100)`: `percent`, a whole number from 0 to 100."""
    return event(job.id, PROGRESS, created_stamp(job), progress=percent)


def success_event(job):
    return event(job.id, COMPLETED, created_stamp(job))


def error_message(error):
    """What a failure line says of the exception `error`: its message, or its type's name
    when it has none (`failed: ` with nothing after it says nothing)."""
    return str(error) or type(error).__name__


def failure_event(job, error):
    """The event of a job that failed with the message `error`: retrying (when, and how
    many more times after that), or failed."""
    if not job.should_retry:
        return event(job.id, FAILED, created_stamp(job), error=error)
    return event(
        job.id,
        RETRYING,
        created_stamp(job),
        error=error,
        delay=job.get_retry_interval(),
        retries_left=job.retries_left - 1,
    )


def emit(connection, queue_name, event):
    """Append `event` to the queue's stream."""
    connection.xadd(stream_key(queue_name), event, maxlen=STREAM_MAXLEN, approximate=True)


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
