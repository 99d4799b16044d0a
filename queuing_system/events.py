"""Job lifecycle events in a Redis stream, so a creator never misses one.

Kue published events on pub/sub: one sent while the creator was not listening was lost, and
the creator waited forever. Here workers append events to a bounded stream per queue, and a
creator reads it from a position taken before its first enqueue (as BullMQ's QueueEvents
does): nothing is lost whichever process starts first, and one job's events keep their order.
"""

import threading
import time
from dataclasses import dataclass

import redis
from rq.exceptions import AbandonedJobError

from .connection import retry_delays
from .console import debug, warn

STREAM_PREFIX = "queuing:events:"
# Bounded: old events are trimmed (approximately, which is cheap) once far behind any reader.
STREAM_MAXLEN = 100_000
READ_BLOCK_MS = 1_000
READ_COUNT = 1_000
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
    and sent as an event, in one round trip, or queued with our worker's next write."""
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


def report_failure(job, connection, exc_type, exc_value, traceback):
    """RQ's on_failure callback: the event carries the error's message only.

    RQ also calls it for a job whose worker died mid-job (AbandonedJobError, no message).
    Such a job is reported failed, not run again: its notification may already be sent.
    """
    error = ABANDONED if isinstance(exc_value, AbandonedJobError) else str(exc_value)
    emit(connection, job.origin, job.id, FAILED, error=error)


def last_event_id(connection, queue_name):
    """The position to follow from: everything after it is new."""
    newest = connection.xrevrange(stream_key(queue_name), count=1)
    return newest[0][0] if newest else "0-0"


def decode(value):
    return value.decode() if isinstance(value, bytes) else value


def parse(fields):
    fields = {decode(key): decode(value) for key, value in fields.items()}
    return Event(
        job_id=fields.get("job", ""),
        kind=fields.get("event", ""),
        progress=int(fields.get("progress", 0)),
        error=fields.get("error", ""),
    )


class EventFollower:
    """Reads a queue's events from a position taken when it is made.

    Make it before enqueueing; then `follow(job_ids)` yields those jobs' events in order
    until every one of them has completed or failed. A dropped connection is retried
    quietly (a note on stderr) and reading resumes where it stopped.
    """

    def __init__(self, connection, queue_name):
        self.connection = connection
        self.key = stream_key(queue_name)
        self.position = last_event_id(connection, queue_name)
        self.busy = False

    def follow(self, job_ids):
        waiting = set(job_ids)
        while waiting:
            for event in self.read():
                if event.job_id in waiting:
                    if event.kind in OUTCOMES:
                        waiting.discard(event.job_id)
                    yield event

    def read(self):
        """The next events after the position (waiting up to READ_BLOCK_MS for some)."""
        if self.busy:
            time.sleep(BUSY_READ_WAIT)
        for delay in retry_delays():
            try:
                reply = self.connection.xread(
                    {self.key: self.position}, count=READ_COUNT, block=READ_BLOCK_MS
                )
                break
            except redis.ConnectionError as error:
                warn(f"Waiting for Redis to come back: {error}")
                time.sleep(delay)
        events = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                self.position = entry_id
                events.append(parse(fields))
        self.busy = 0 < len(events) < READ_COUNT  # a full batch: more are waiting, read at once
        debug(f"read {len(events)} events up to {decode(self.position)}")
        return events


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
        self.follower = EventFollower(connection, queue_name)
        self.on_event = on_event
        self.pending = set()
        self.changed = threading.Condition()
        self.stopping = threading.Event()
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
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join()
        JobReporter.running.discard(self)

    def _run(self):
        while not self.stopping.is_set():
            for event in self.follower.read():
                with self.changed:
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
