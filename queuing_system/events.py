"""Job lifecycle events in a Redis stream, so a creator never misses one.

Kue published events on pub/sub: one sent while the creator was not listening was lost, and
the creator waited forever. Here workers append events to a bounded stream per queue, and a
creator reads it from a position taken before its first enqueue (as BullMQ's QueueEvents
does): nothing is lost whichever process starts first, and one job's events keep their order.
"""

import threading
import time
from dataclasses import dataclass

from rq.exceptions import AbandonedJobError
from rq.job import Job, JobStatus

from .connection import RETRYABLE, is_fatal, outage, retry_delays
from .console import debug, warn

STREAM_PREFIX = "queuing:events:"
# Bounded: old events are trimmed (approximately, which is cheap) once far behind any reader.
STREAM_MAXLEN = 100_000
READ_BLOCK_MS = 1_000
READ_COUNT = 1_000
# A follower that hears nothing checks its jobs' status (see EventFollower.recover) after
# this many seconds, then twice as long each time, up to the last.
FIRST_STATUS_CHECK = 1.0
LAST_STATUS_CHECK = 30.0
# While events keep coming, let them gather this long between two reads: a busy creator then
# makes one round trip per few dozen events instead of one per job, for at most this delay.
BUSY_READ_WAIT = 0.005  # seconds

PROGRESS = "progress"
COMPLETED = "completed"
FAILED = "failed"
OUTCOMES = (COMPLETED, FAILED)


@dataclass(frozen=True)
class Event:
    job_id: str
    kind: str  # progress, completed or failed
    progress: int = 0
    error: str = ""


def stream_key(queue_name):
    return STREAM_PREFIX + queue_name


def emit(connection, queue_name, job_id, kind, **fields):
    connection.xadd(
        stream_key(queue_name),
        {"job": job_id, "event": kind, **fields},
        maxlen=STREAM_MAXLEN,
        approximate=True,
    )


def report_progress(job, percent):
    """Kue's `job.progress(percent, 100)`: kept in job.meta (for `rq info` and dashboards)
    and sent as an event, in one round trip, or queued with our worker's next write.
    As Kue did, the percentage is a whole number from 0 to 100 (100/3 gives 33)."""
    percent = min(max(int(percent), 0), 100)
    job.meta["progress"] = percent

    def write(pipeline):
        pipeline.hset(job.key, "meta", job.serializer.dumps(job.meta))
        emit(pipeline, job.origin, job.id, PROGRESS, progress=percent)

    outbox = getattr(job, "outbox", None)  # set by workers.Worker; absent under a stock worker
    if outbox is not None:
        outbox.add(write)
        return
    with job.connection.pipeline(transaction=False) as pipeline:
        write(pipeline)
        pipeline.execute()


def pipeline_safe(callback):
    """Mark an RQ callback that only queues writes on the connection it gets: our worker
    passes it its pipeline, so the event goes out with the job's own bookkeeping."""
    callback.pipeline_safe = True
    return callback


@pipeline_safe
def report_success(job, connection, result, *args, **kwargs):
    """RQ's on_success callback."""
    emit(connection, job.origin, job.id, COMPLETED)


ABANDONED = "Job abandoned: its worker stopped before finishing it"

# An abandoned job's outcome, claimed: written only by whoever takes its expired execution
# out of the started registry, so it cannot cross a worker that was only paused and has
# just reported the job's end (see bookkeeping's guards).
# KEYS: started registry, event stream; ARGV: job id, now, stream maxlen, event fields...
CLAIM_ABANDONED = """
local prefix, claimed = ARGV[1] .. ':', 0
for _, entry in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[2])) do
  if string.sub(entry, 1, #prefix) == prefix then
    claimed = claimed + redis.call('ZREM', KEYS[1], entry)
  end
end
if claimed > 0 then redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 4)) end
return claimed
"""


@pipeline_safe
def report_failure(job, connection, exc_type, exc_value, traceback):
    """RQ's on_failure callback: the event carries the error's message only.

    RQ also calls it, with no pipeline, for a job whose worker died mid-job
    (AbandonedJobError). Such a job is reported failed (once: see CLAIM_ABANDONED), not
    run again: its notification may already be sent.
    """
    if not isinstance(exc_value, AbandonedJobError):
        emit(connection, job.origin, job.id, FAILED, error=str(exc_value))
        return
    fields = ("job", job.id, "event", FAILED, "error", ABANDONED)
    keys = (job.started_job_registry.key, stream_key(job.origin))
    connection.eval(CLAIM_ABANDONED, len(keys), *keys, job.id, time.time(), STREAM_MAXLEN, *fields)


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
        progress = int(fields.get("progress", 0))
    except (UnicodeDecodeError, KeyError, ValueError) as error:
        raise UnreadableEvent(f"{error!r}") from None
    if kind not in (PROGRESS, *OUTCOMES) or not 0 <= progress <= 100 or "job" not in fields:
        raise UnreadableEvent(f"not an event of ours: {fields!r}")
    return Event(job_id=fields["job"], kind=kind, progress=progress, error=fields.get("error", ""))


class EventFollower:
    """Reads a queue's events from a position taken when it is made.

    Make it before enqueueing; then `follow(job_ids)` yields those jobs' events in order
    until every one of them has completed or failed. A dropped connection is retried
    quietly (a note on stderr) and reading resumes where it stopped.
    """

    def __init__(self, connection, queue_name, stopping=None):
        self.connection = connection
        self.key = stream_key(queue_name)
        self.position = last_event_id(connection, queue_name)
        self.stopping = stopping or threading.Event()  # set: read() returns at once
        self.skipped = 0
        self.busy = False
        self.check_every = FIRST_STATUS_CHECK
        self.next_check = 0.0

    def follow(self, job_ids):
        waiting = set(job_ids)
        while waiting:
            for event in self.next_events(waiting):
                if event.job_id in waiting:
                    if event.kind in OUTCOMES:
                        waiting.discard(event.job_id)
                    yield event

    def next_events(self, waiting):
        """The next events; if none come, the outcomes of `waiting` jobs that were lost."""
        events = self.read()
        if events:
            self.check_every = FIRST_STATUS_CHECK
            return events
        return self.recover(waiting)

    def recover(self, waiting):
        """Outcomes trimmed from the stream before this follower read them.

        That happens only to a follower more than STREAM_MAXLEN events behind. While the
        stream is quiet, the waiting jobs' status is checked at growing intervals. A worker
        writes a job's outcome event before (or with) its final status, so an ended job
        whose outcome is neither read nor in the stream now had it trimmed.
        """
        if not waiting or time.monotonic() < self.next_check:
            return []
        self.next_check = time.monotonic() + self.check_every
        self.check_every = min(self.check_every * 2, LAST_STATUS_CHECK)
        ended = ended_jobs(self.connection, waiting)
        if not ended:
            return []
        events = self.read(block=False)  # outcomes written since the last read come first
        if len(events) == READ_COUNT:
            return events  # busy again: an ended job's outcome may be further on
        heard = {event.job_id for event in events if event.kind in OUTCOMES}
        lost = [outcome for job_id, outcome in ended.items() if job_id not in heard]
        if lost:
            warn(
                f"{len(lost)} job outcomes were trimmed from the event stream before they "
                f"were read; taken from the jobs' status"
            )
        return events + lost

    def skip(self, entry_id, error):
        """Pass over an entry that is no event of ours: said once, then counted quietly."""
        self.skipped += 1
        if self.skipped == 1:
            warn(
                f"skipped an unreadable entry of {decode(self.key)} ({decode(entry_id)}: {error}); "
                f"further ones are skipped quietly"
            )
        else:
            debug(f"skipped unreadable entry {decode(entry_id)}: {error}")

    def read(self, block=True):
        """The next events after the position (waiting up to READ_BLOCK_MS for some)."""
        if self.busy:
            time.sleep(BUSY_READ_WAIT)
        for delay in retry_delays():
            if self.stopping.is_set():
                return []
            try:
                reply = self.connection.xread(
                    {self.key: self.position}, count=READ_COUNT, block=READ_BLOCK_MS if block else None
                )
                break
            except RETRYABLE as error:
                if is_fatal(error):
                    raise
                outage.lost(error)
                self.stopping.wait(delay)
        outage.back()
        events = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                self.position = entry_id
                try:
                    events.append(parse(fields))
                except UnreadableEvent as error:
                    self.skip(entry_id, error)
        self.busy = 0 < len(events) < READ_COUNT  # a full batch: more are waiting, read at once
        debug(f"read {len(events)} events up to {decode(self.position)}")
        return events


def ended_jobs(connection, job_ids):
    """{job id: its outcome event} for those of `job_ids` that have completed or failed."""
    job_ids = list(job_ids)
    with connection.pipeline(transaction=False) as pipeline:
        for job_id in job_ids:
            pipeline.hget(Job.key_for(job_id), "status")
        statuses = [decode(status) for status in pipeline.execute()]
    ended = {}
    for job_id, status in zip(job_ids, statuses, strict=True):
        if status == JobStatus.FINISHED:
            ended[job_id] = Event(job_id, COMPLETED)
        elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            ended[job_id] = Event(job_id, FAILED, error=failure_message(connection, job_id))
    return ended


def failure_message(connection, job_id):
    """The message a failed job's event carried, read back from RQ's stored result."""
    result = Job(job_id, connection=connection).latest_result()
    last_line = (result.exc_string or "").strip().splitlines()[-1:] if result else []
    if not last_line or "AbandonedJobError" in last_line[0]:
        return ABANDONED
    return last_line[0].split(": ", 1)[-1]  # "module.Error: message"


def event_line(label, event):
    """The creator's line for an event, e.g. `Notification job 3 50% complete`."""
    if event.kind == PROGRESS:
        return f"{label} job {event.job_id} {event.progress}% complete"
    if event.kind == COMPLETED:
        return f"{label} job {event.job_id} completed"
    return f"{label} job {event.job_id} failed: {event.error}"


class JobReporter:
    """Hands the events of the jobs it watches to `on_event`, from a background thread.

    Kue's `job.on(...)` listeners kept reporting as long as the process lived; this does the
    same for a function that returns before its jobs end (8_job) and for a server that
    creates jobs on every request (100_seat), with one thread for all of its jobs. Make it
    before creating the jobs, then `watch` their ids.
    """

    running = set()

    def __init__(self, connection, queue_name, on_event):
        self.stopping = threading.Event()
        self.follower = EventFollower(connection, queue_name, self.stopping)
        self.on_event = on_event
        self.pending = set()
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="job-events", daemon=True)

    def watch(self, job_ids):
        with self.changed:
            self.pending.update(job_ids)
            if not self.thread.is_alive():
                JobReporter.running.add(self)
                self.thread.start()

    def wait(self):
        """Until every watched job has completed or failed."""
        with self.changed:
            self.changed.wait_for(lambda: not self.pending)

    def stop(self):
        """Report nothing more, at once. The thread ends by itself when its read returns
        (within READ_BLOCK_MS): joining it would make every stop wait that long."""
        with self.changed:  # not while it reports an event
            self.stopping.set()
        JobReporter.running.discard(self)

    def _run(self):
        while not self.stopping.is_set():
            with self.changed:
                pending = set(self.pending)
            try:
                events = self.follower.next_events(pending)
            except Exception as error:  # the thread outlives a bad read; the next one goes on
                warn(f"could not read job events: {error!r}")
                self.stopping.wait(1.0)
                continue
            for event in events:
                with self.changed:
                    if self.stopping.is_set():
                        return
                    if event.job_id not in self.pending:
                        continue
                    # Reported before the job counts as ended, so wait() never returns
                    # ahead of the job's last line.
                    self.on_event(event)
                    if event.kind in OUTCOMES:
                        self.pending.discard(event.job_id)
                        self.changed.notify_all()


def wait_for_reporters():
    """Block until every job watched in this process has completed or failed."""
    for reporter in list(JobReporter.running):
        reporter.wait()


def stop_reporters():
    """Stop following events (the jobs themselves are untouched): for tests."""
    for reporter in list(JobReporter.running):
        reporter.stop()
