"""Delayed jobs and retries with back-off onto their queue when due, by our workers.

A job created with a delay (jobs.Timing, RQ's `enqueue_in`/`enqueue_at`) or failed with a
back-off (RQ's `Retry(max, interval)`) waits in its queue's scheduled registry until due.
RQ moves it with a scheduler that its worker forks (`work(with_scheduler=True)`): one more
process per worker, for our stops to cover (nothing outlives a processor, stopped within
5 s). Our workers move due jobs from their own loop instead, between two jobs and at each
idle poll, with RQ's RQScheduler and its locks: one worker per queue at a time, as in RQ's
burst mode. A stopping worker gives its locks up for another to take at once; one that was
killed holds them until they expire (RQ's lock lives SCHEDULER_INTERVAL + 60 s).
"""

import time

from rq.job import Job
from rq.scheduler import RQScheduler

from ..connection import worth_retrying
from ..console import debugging, warn
from .set_aside import due_entries, is_job_id, set_aside_scheduled

SCHEDULER_INTERVAL = 1  # seconds between two looks for due jobs (RQ's default)


class DueJobs:
    """Moves the due jobs of `queues` onto them, at most once per SCHEDULER_INTERVAL."""

    def __init__(self, queues, connection, serializer):
        self.scheduler = RQScheduler(
            queues,
            connection=connection,
            interval=SCHEDULER_INTERVAL,
            serializer=serializer,
            logging_level="DEBUG" if debugging() else "WARNING",
        )
        self.queues = queues
        self.serializer = serializer
        self.next_look = 0.0
        self.failing = None  # the error said while due jobs could not be moved

    def move(self):
        """If it is time to look, and no other worker holds the queues' scheduling: move
        the jobs due by now onto their queues (each once, in one transaction per queue).
        Due entries RQ cannot handle are set aside first (see set_aside.py)."""
        if time.monotonic() < self.next_look:
            return
        self.next_look = time.monotonic() + SCHEDULER_INTERVAL
        if not self.scheduler.acquire_locks():
            return
        due = {queue: due_entries(queue, int(time.time())) for queue in self.queues}
        if not any(due.values()):
            return
        for queue, entries in due.items():
            for entry in entries:
                if not is_job_id(entry):
                    set_aside_scheduled(queue, entry, "it is no job id")
        try:
            self.scheduler.enqueue_scheduled_jobs()
        except Exception as error:  # a due job RQ cannot read: found and set aside
            if worth_retrying(error):
                raise
            if not self.set_aside_unreadable(due) and repr(error) != self.failing:
                warn(f"could not move due jobs onto their queues: {error!r}; trying again")
                self.failing = repr(error)
            return
        self.failing = None

    def set_aside_unreadable(self, due):
        """Set aside the `due` jobs that RQ cannot read; returns how many there were."""
        count = 0
        for queue, entries in due.items():
            for entry in filter(is_job_id, entries):
                try:
                    Job.fetch_many([entry.decode()], queue.connection, self.serializer)
                except Exception as error:  # as RQ's scheduler reads it
                    if worth_retrying(error):
                        raise
                    set_aside_scheduled(queue, entry.decode(), f"it cannot be read ({error!r})", report=True)
                    count += 1
        return count

    def release(self):
        """Give the queues' scheduling up, for another worker to take at once."""
        if self.scheduler.acquired_locks:
            self.scheduler.release_locks()
