"""A worker's writes to Redis, one step per transition, each done once.

RQ's own worker makes 23 round trips to Redis per job (`benchmarks/bench.py worker`), and on
this kind of machine a round trip costs more CPU (two system calls and a context switch) than
the job itself. Ours makes one: each transition is one Lua script (lua.py), and a job's end
(its status, result, registries, outcome event) goes in the same step as the take and the
start of the next job, as BullMQ's moveToFinished fetches the next job.

A step is done once. Its reply can be lost after Redis ran it (a dropped connection, a killed
client); run again, it would repeat a job's outcome, or take a second job while the first one
waits. So steps are numbered, Redis keeps the last one done in the worker's step marker
(include/step.lua), and a step sent again is answered from it.

A running job's progress (its meta and events: callbacks.report_progress) waits to go with its
end, or, if the job runs longer than FLUSH_AFTER, a thread sends it then, as Kue's
`job.progress()` returned before its write was done.
"""

import threading
import time

from ..connection import describe, keep_trying, outage, worth_retrying
from ..console import warn
from ..events import emit
from . import lua

FLUSH_AFTER = 0.05  # seconds a running job's progress may wait for the job's end


class Steps:
    """The numbered steps of one worker, sent on `client` (a connection of its own), in
    turn (from the worker's thread and from Progress's). While Redis is away a step waits
    for it (see connection.keep_trying: once `stopping` is set, STOP_PATIENCE at most)."""

    def __init__(self, client, stopping):
        self.client = client
        self.stopping = stopping
        self.lock = threading.RLock()
        self.seq = 0
        self.unsent = None  # (script, keys, args) of a step whose reply was lost

    def send(self, script, keys, args, patience=None):
        """The reply of step `script` (its KEYS[1], the marker, first in `keys`; its ARGV[1],
        `args[0]`, becomes the step's number). A step whose reply was lost goes first, as it
        was: Redis answers it if it had done it. Raises what keep_trying raises; the step
        is then still unsent (see drop)."""
        with self.lock:
            if self.unsent is not None:
                self._call(*self.unsent, patience)
                self.unsent = None
            self.seq += 1
            args[0] = self.seq
            self.unsent = (script, keys, args)
            reply = self._call(script, keys, args, patience)
            self.unsent = None
            return reply

    def _call(self, script, keys, args, patience):
        try:
            return keep_trying(lambda: script(self.client, keys, args), self.stopping, patience)
        except Exception as error:
            if not worth_retrying(error):  # refused: sent again, it would be refused again
                self.unsent = None
            raise

    def drop(self, error, what):
        """Give up the unsent step (Redis stayed away while the worker stops), saying so."""
        with self.lock:
            self.unsent = None
        warn(f"Gave up sending {what}: {describe(error)}")


class Progress:
    """The progress of the job a worker runs (WorkerJob.progress): its meta, and its events
    as events.emit writes them, taken by the step that ends the job (`take`), or sent by a
    thread of its own once they have waited FLUSH_AFTER."""

    def __init__(self, steps, marker):
        self.steps = steps
        self.marker = marker
        self.job_key = self.stream = None  # the job whose progress is queued, and its stream
        self.meta = None
        self.events = []  # each a flat list of fields and values
        self.queued_at = None
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._send_late, name="progress", daemon=True)
        self.thread.start()

    def add(self, job, kind, fields):
        """Queue `job`'s meta as it is now and its event (`kind`, `fields`: as events.emit
        takes them); the job is running. A meta that cannot be serialized fails the job
        here, as RQ's save_meta would."""
        meta = job.serializer.dumps(job.meta)
        with self.steps.lock:
            emit(self, job.origin, job.id, kind, fields)  # kept by xadd, below
            self.job_key, self.meta = job.key, meta
            if self.queued_at is None:
                self.queued_at = time.monotonic()

    def xadd(self, name, fields, **options):
        """As EventCapture.xadd: events.emit, given this Progress, adds its event here."""
        self.stream = name
        self.events.append([part for pair in fields.items() for part in pair])

    def take(self):
        """(meta or '', events) queued, which the caller sends (holding steps.lock)."""
        meta, events = self.meta or "", self.events
        self.meta, self.events, self.queued_at = None, [], None
        return meta, events

    def close(self):
        self.closed.set()

    def _send_late(self):
        while not self.closed.wait(FLUSH_AFTER):
            with self.steps.lock:
                late = self.queued_at is not None and time.monotonic() - self.queued_at >= FLUSH_AFTER
                if not late or self.steps.unsent is not None:
                    continue
                job_key, stream = self.job_key, self.stream
                meta, events = self.take()
                args = [0, meta, *event_arguments(events)]
                try:  # once: the worker's next step sends it again, as it was, if it failed
                    self.steps.send(lua.PROGRESS, [self.marker, job_key, stream], args, patience=0)
                except Exception as error:  # noqa: BLE001 - this thread must outlive any error
                    if worth_retrying(error):
                        outage.lost(error)
                    else:
                        warn(f"could not send a job's progress: {error!r}")


def event_arguments(events):
    """A step's ARGV for `events` (flat lists of fields and values): their number, then
    each as its length, then itself (include/events.lua)."""
    arguments = [len(events)]
    for fields in events:
        arguments.append(len(fields))
        arguments += fields
    return arguments


class Event:
    """An event as events.emit writes it: the stream and the flat fields of its XADD."""

    __slots__ = ("stream", "fields")

    def __init__(self, stream, fields):
        self.stream = stream
        self.fields = fields


class EventCapture:
    """Stands in for the connection events.emit (and our callbacks) add an event with: the
    event is kept, for a step to write with the job's own writes, as emit wrote it."""

    def __init__(self):
        self.events = []

    def xadd(self, name, fields, **options):
        self.events.append(Event(name, [part for pair in fields.items() for part in pair]))
