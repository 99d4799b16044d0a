"""Following a queue's events (events.py) from a position taken before its jobs are
enqueued: the creator's side. BullMQ's QueueEvents does the same."""

import threading
import time
from pathlib import Path

from rq.job import Job, JobStatus

from .connection import RETRYABLE, is_fatal, outage, retry_delays
from .console import debug, inform, warn
from .events import (
    ABANDONED,
    COMPLETED,
    FAILED,
    OUTCOMES,
    Event,
    UnreadableEvent,
    decode,
    last_event_id,
    parse,
    stream_key,
)

READ_BLOCK_MS = 1_000
READ_COUNT = 1_000
# A follower that hears nothing checks its jobs' status (see EventFollower.recover) after
# this many seconds, then twice as long each time, up to the last.
FIRST_STATUS_CHECK = 1.0
LAST_STATUS_CHECK = 30.0
# While events keep coming, let them gather this long between two reads: a busy creator then
# makes one round trip per few dozen events instead of one per job, for at most this delay.
BUSY_READ_WAIT = 0.005  # seconds
# A creator that has heard nothing of its jobs this long says, once, which processor to start.
HINT_AFTER = 5.0  # seconds


class EventFollower:
    """Reads a queue's events from a position taken when it is made.

    Make it before enqueueing; then `follow(job_ids)` yields those jobs' events in order
    until every one of them has completed or failed. A dropped connection is retried
    quietly (a note on stderr) and reading resumes where it stopped.
    """

    def __init__(self, connection, queue_name, stopping=None):
        self.connection = connection
        self.queue_name = queue_name
        self.key = stream_key(queue_name)
        self.position = last_event_id(connection, queue_name)
        self.stopping = stopping or threading.Event()  # set: read() returns at once
        self.skipped = 0
        self.busy = False
        self.check_every = FIRST_STATUS_CHECK
        self.next_check = 0.0

    def follow(self, jobs):
        """The events of `jobs` (RQ jobs, or their ids) until each has completed or failed.
        Having heard nothing for HINT_AFTER seconds, it says once on stderr which processor
        to start."""
        jobs = list(jobs)
        waiting = {getattr(job, "id", job) for job in jobs}
        hint_at = time.monotonic() + HINT_AFTER
        while waiting:
            events = self.next_events(waiting)
            if events:
                hint_at = None
            elif hint_at is not None and time.monotonic() >= hint_at:
                inform(processor_hint(jobs, self.queue_name))
                hint_at = None
            for event in events:
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


def processor_hint(jobs, queue_name):
    """What to start so that `jobs` run: the numbered script of their job function, where
    there is one here ("7_job_processor.process" -> python 7_job_processor.py)."""
    module = getattr(jobs[0], "func_name", "").rpartition(".")[0] if jobs else ""
    script = f"{module}.py"
    if module and Path(script).is_file():
        return f"No word from a worker yet on {queue_name}: is one running? Start it with: python {script}"
    return f"No word from a worker yet on {queue_name}: is one running?"


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
    error, _, message = last_line[0].partition(": ")  # "module.Error: message"
    return message or error.rsplit(".", 1)[-1]  # as callbacks.error_message says it
