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

from .connection import retry_delays
from .console import debug, warn

STREAM_PREFIX = "queuing:events:"
# Bounded: old events are trimmed (approximately, which is cheap) once far behind any reader.
STREAM_MAXLEN = 100_000
READ_BLOCK_MS = 1_000
READ_COUNT = 1_000

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
    and sent as an event, in one round trip."""
    job.meta["progress"] = percent
    with job.connection.pipeline(transaction=False) as pipe:
        pipe.hset(job.key, "meta", job.serializer.dumps(job.meta))
        emit(pipe, job.origin, job.id, PROGRESS, progress=percent)
        pipe.execute()


def report_success(job, connection, result, *args, **kwargs):
    """RQ's on_success callback."""
    emit(connection, job.origin, job.id, COMPLETED)


def report_failure(job, connection, exc_type, exc_value, traceback):
    """RQ's on_failure callback: the event carries the error's message only."""
    emit(connection, job.origin, job.id, FAILED, error=str(exc_value))


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

    def follow(self, job_ids, stopping=None):
        waiting = set(job_ids)
        while waiting and not (stopping and stopping.is_set()):
            for event in self._read():
                if event.job_id in waiting:
                    if event.kind in OUTCOMES:
                        waiting.discard(event.job_id)
                    yield event

    def _read(self):
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
        debug(f"read {len(events)} events up to {decode(self.position)}")
        return events


def event_line(label, event):
    """The creator's line for an event, e.g. `Notification job 3 50% complete`."""
    if event.kind == PROGRESS:
        return f"{label} job {event.job_id} {event.progress}% complete"
    if event.kind == COMPLETED:
        return f"{label} job {event.job_id} completed"
    return f"{label} job {event.job_id} failed: {event.error}"


class Watcher(threading.Thread):
    """Follows some jobs' events in the background, calling `on_event` for each.

    Kue's `job.on(...)` listeners kept printing as long as the process lived; this thread
    does the same for the Python scripts that return before their jobs end.
    """

    running = set()

    def __init__(self, follower, job_ids, on_event):
        super().__init__(name="job-events", daemon=True)
        self.follower = follower
        self.job_ids = list(job_ids)
        self.on_event = on_event
        self.stopping = threading.Event()

    def run(self):
        try:
            for event in self.follower.follow(self.job_ids, self.stopping):
                self.on_event(event)
        finally:
            Watcher.running.discard(self)

    def start(self):
        Watcher.running.add(self)
        super().start()


def wait_for_watchers():
    """Block until every job being watched in this process has completed or failed."""
    for watcher in list(Watcher.running):
        watcher.join()


def stop_watchers():
    """Stop following events (the jobs themselves are untouched): for tests."""
    for watcher in list(Watcher.running):
        watcher.stopping.set()
        watcher.join()
