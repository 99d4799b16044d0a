"""Following a queue's events (events.py) from a position taken before its jobs are
enqueued: the creator's side. BullMQ's QueueEvents does the same. A creator's jobs name
the RQ callbacks that write those events through it: EventFollower.report_success and
report_failure (callbacks.py)."""

import threading
import time
from pathlib import Path

from rq.job import Job, JobStatus

from . import callbacks
from .connection import keep_trying, worth_retrying
from .console import debug, inform, warn
from .events import (
    ABANDONED,
    COMPLETED,
    FAILED,
    OUTCOMES,
    VANISHED,
    Event,
    UnreadableEvent,
    decode,
    entry_events,
    last_event_id,
    stamps_of,
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

    Make it before enqueueing; then `follow(jobs)` yields those jobs' events in order
    until every one of them has completed or failed (or vanished from Redis: see recover).
    A dropped connection, or a Redis that cannot serve now (BUSY...), is retried quietly
    (a note on stderr) and reading resumes where it stopped.

    An event is a job's when it carries the job's id and its created_at stamp: after a
    data loss the id counter starts again at 1, and another job then has the same id.
    """

    # The RQ callbacks that tell a follower how a job ended, for a creator to name as it
    # enqueues: `Callback(EventFollower.report_success)`. RQ stores them by their own path
    # (callbacks.py), the one every worker of ours, older ones included, knows.
    report_success = staticmethod(callbacks.report_success)
    report_failure = staticmethod(callbacks.report_failure)

    def __init__(self, connection, queue_name, stopping=None):
        self.connection = connection
        self.queue_name = queue_name
        self.key = stream_key(queue_name)
        self.stopping = stopping or threading.Event()  # set: read() returns at once
        self.position = self.patiently(lambda: last_event_id(connection, queue_name)) or "0-0"
        self.skipped = 0
        self.busy = False
        self.check_every = FIRST_STATUS_CHECK
        self.next_check = 0.0

    def follow(self, jobs):
        """The events of `jobs` (RQ jobs, or their ids) until each has completed or failed.
        Having heard nothing for HINT_AFTER seconds, it says once on stderr which processor
        to start."""
        first = []  # the first job, for the hint: the rest is not held (a batch makes each as read)

        def noting_the_first(jobs):
            for job in jobs:
                if not first:
                    first.append(job)
                yield job

        waiting = self.stamps(noting_the_first(jobs))
        hint_at = time.monotonic() + HINT_AFTER
        while waiting:
            events = self.next_events(waiting)
            if events:
                hint_at = None
            elif hint_at is not None and time.monotonic() >= hint_at:
                inform(processor_hint(first, self.queue_name))
                hint_at = None
            for event in events:
                if event.belongs_to(waiting):
                    if event.kind in OUTCOMES:
                        del waiting[event.job_id]
                    yield event

    def stamps(self, jobs):
        """{job id: its created_at stamp} of `jobs`, RQ jobs or their ids: an id's stamp is
        read from its hash (None if it has none)."""
        stamps = stamps_of(jobs)
        unknown = [job_id for job_id, stamp in stamps.items() if stamp is None]
        if unknown:
            stamps.update(self.patiently(lambda: created_stamps(self.connection, unknown)) or {})
        return stamps

    def next_events(self, waiting):
        """The next events; if none come, the outcomes of `waiting` jobs that were lost."""
        events = self.read()
        if events:
            self.check_every = FIRST_STATUS_CHECK
            return events
        return self.recover(waiting)

    def recover(self, waiting):
        """Outcomes this follower cannot read from the stream, from the jobs themselves.

        The outcome of a job that ended was trimmed from the stream before this follower
        read it (it is more than STREAM_MAXLEN events behind); a job whose hash is gone,
        or holds another job that took its id, has vanished (deleted, evicted, lost in a
        restart): it will never end, and is reported failed. While the stream is quiet,
        the `waiting` jobs ({id: created stamp}, or ids) are checked at growing intervals.
        A worker writes a job's outcome event before (or with) its final status, so an
        ended job whose outcome is neither read nor in the stream now had it trimmed.
        """
        if not waiting or time.monotonic() < self.next_check:
            return []
        self.next_check = time.monotonic() + self.check_every
        self.check_every = min(self.check_every * 2, LAST_STATUS_CHECK)
        if not isinstance(waiting, dict):
            waiting = dict.fromkeys(waiting)
        ended = self.patiently(lambda: ended_jobs(self.connection, waiting))
        if not ended:
            return []
        events = self.read(block=False)  # outcomes written since the last read come first
        if len(events) == READ_COUNT:
            return events  # busy again: an ended job's outcome may be further on
        heard = {event.job_id for event in events if event.kind in OUTCOMES and event.belongs_to(waiting)}
        lost = [outcome for job_id, outcome in ended.items() if job_id not in heard]
        trimmed = sum(outcome.error != VANISHED for outcome in lost)
        if trimmed:
            warn(
                f"{trimmed} job outcomes were trimmed from the event stream before they "
                f"were read; taken from the jobs' status"
            )
        if len(lost) > trimmed:
            warn(
                f"{len(lost) - trimmed} jobs of {self.queue_name} are gone from Redis (deleted, "
                f"evicted, or lost when Redis restarted): reported failed"
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

    def patiently(self, command):
        """`command()`, tried again while Redis is away or cannot serve now (said on
        stderr, once per outage: connection.keep_trying); None if a stop came first. An
        error retrying cannot fix is raised."""
        if self.stopping.is_set():
            return None
        try:
            return keep_trying(command, self.stopping, stop_patience=0)
        except Exception as error:
            if self.stopping.is_set() and worth_retrying(error):
                return None
            raise

    def read(self, block=True):
        """The next events after the position (waiting up to READ_BLOCK_MS for some)."""
        if self.busy:
            time.sleep(BUSY_READ_WAIT)
        reply = self.patiently(
            lambda: self.connection.xread(
                {self.key: self.position}, count=READ_COUNT, block=READ_BLOCK_MS if block else None
            )
        )
        events = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                self.position = entry_id
                try:
                    events += entry_events(fields)
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


def created_stamps(connection, job_ids):
    """{job id: the created_at of its hash, or None where there is none}."""
    with connection.pipeline(transaction=False) as pipeline:
        for job_id in job_ids:
            pipeline.hget(Job.key_for(job_id), "created_at")
        return {job_id: decode(stamp) for job_id, stamp in zip(job_ids, pipeline.execute(), strict=True)}


def ended_jobs(connection, waiting):
    """{job id: its outcome event} for the `waiting` jobs ({id: created stamp or None})
    that have completed or failed, or vanished: no hash, or the hash of a job created at
    another time (its id taken again after a data loss)."""
    job_ids = list(waiting)
    with connection.pipeline(transaction=False) as pipeline:
        for job_id in job_ids:
            pipeline.hmget(Job.key_for(job_id), "status", "created_at")
        replies = pipeline.execute()
    ended = {}
    for job_id, (status, stamp) in zip(job_ids, replies, strict=True):
        status, stamp = decode(status), decode(stamp)
        if stamp is None or (waiting[job_id] and stamp != waiting[job_id]):
            ended[job_id] = Event(job_id, FAILED, error=VANISHED, created=waiting[job_id] or "")
        elif status == JobStatus.FINISHED:
            ended[job_id] = Event(job_id, COMPLETED, created=stamp)
        elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            ended[job_id] = Event(job_id, FAILED, error=failure_message(connection, job_id), created=stamp)
    return ended


def failure_message(connection, job_id):
    """The message a failed job's event carried, read back from RQ's stored result."""
    result = Job(job_id, connection=connection).latest_result()
    last_line = (result.exc_string or "").strip().splitlines()[-1:] if result else []
    if not last_line or "AbandonedJobError" in last_line[0]:
        return ABANDONED
    error, _, message = last_line[0].partition(": ")  # "module.Error: message"
    return message or error.rsplit(".", 1)[-1]  # as events.error_message says it
