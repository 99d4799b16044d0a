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

A running job's progress (its meta and percentages: progress.report_progress) waits to go
with its end, in its outcome's event, or, if the job runs longer than FLUSH_AFTER, a thread
sends it then, as Kue's `job.progress()` returned before its write was done.

The steps' connection has no socket timeout (a poll() before each send and each read): the
worker's watch (Watch, StepConnection.cut_if_stuck) bounds how long a step waits for Redis.
"""

import threading
import time

import redis

from .. import lua
from ..connection import describe, keep_trying, outage, worth_retrying
from ..console import warn
from ..events import created_stamp, stream_key
from ..replication import answer, sent

FLUSH_AFTER = 0.05  # seconds a running job's progress may wait for the job's end
TICK = 0.1  # seconds between two rounds of the watch's chores
WAIT_BOUND = 5.0  # seconds a step waits for Redis's answer (redis-py's socket timeout was 5 s)
STOP_WAIT = 0.5  # seconds a step waits for it once the worker is stopping
PAUSED = 1.0  # seconds between two looks of the watch that say this process was paused


class StepConnection:
    """The connection a worker's steps go on: one of its own, made as `pool` makes its
    connections (redis-py's), standing in for a client (execute_command, script_load).
    Each command is sent and its reply read by the Connection's own send_command and
    read_response, retried as a redis-py client retries it (the connection's Retry, dropping
    the connection after each failure), without the rest of the client's path around each
    command (its timing for observability, the closures it makes): that path was a sixth of
    a job's instructions.

    Its socket blocks (no timeout): Python waits for a socket that has one with a poll()
    before each send and each read, two system calls a step. What the timeout bounded, the
    worker's watch bounds (cut_if_stuck): a command Redis leaves unanswered WAIT_BOUND
    seconds (a frozen Redis, a host gone without a word) fails as a dropped connection does
    and is tried again, and once the worker is stopping, one unanswered STOP_WAIT seconds
    is given up (StopWaiting).

    Where the primary has replicas, each step is followed, in the same write, by the WAIT
    for them (replication.py): a step they lack raises NotReplicated, and is sent again as
    if its reply was lost (answered from the step marker, if done), so that no job's
    outcome is told, nor the next job run, before a failover would keep them."""

    def __init__(self, pool, stopping):
        self.stopping = stopping
        self.connection = pool.connection_class(**{**pool.connection_kwargs, "socket_timeout": None})
        self.since = None  # when the command in flight was sent (time.monotonic()); None: none is
        # (a blocking command's: when its own timeout ends)
        self.cut = None  # the `since` of a command whose wait cut_if_stuck ended, and why
        self.again = False  # the last command failed: the next may be it, sent again
        self.looked = self.resumed = time.monotonic()  # cut_if_stuck's: its last look, a pause's end
        self.connection.connect()

    def execute_command(self, *args, blocks=0):
        """The reply of a command; one that `blocks` (a blocking command's timeout, in
        seconds) is left that long more before its wait counts."""
        return self._round_trip(args, blocks)

    def execute_packed(self, command):
        """The reply of a command packed as Redis reads it (lua.Script.packed)."""
        return self._round_trip(command, 0)

    def _round_trip(self, command, blocks):
        """The reply of `command` (a tuple of arguments, or bytes packed already), then, where
        the primary has replicas, of the WAIT sent after it in the same write."""
        connection = self.connection

        def round_trip():
            self.since = since = time.monotonic() + blocks
            self.again, again = True, self.again  # failed, the next try may be this one again
            try:
                reply = answer(sent(connection, [command], again)[0])  # the step, then the WAIT
                self.again = False
                return reply
            except Exception as error:
                cut = self.cut
                if cut is not None and cut[0] == since:  # its wait ended by the watch: that broke it
                    raise cut[1] from error
                raise
            finally:
                self.since = None

        return connection.retry.call_with_retry(round_trip, lambda error: connection.disconnect())

    def script_load(self, text):
        return self.execute_command("SCRIPT", "LOAD", text)

    def cut_if_stuck(self):
        """The watch's chore: end the wait of a command unanswered too long (see above),
        by closing the connection under it. A wait is counted from the end of a pause of
        this process (SIGSTOP, a host suspended: the watch finds its last look long ago),
        so that a reply that came meanwhile is read, not cut."""
        now = time.monotonic()
        if now - self.looked > PAUSED:
            self.resumed = now
        self.looked = now
        since = self.since
        if since is None:
            return
        waited = now - max(since, self.resumed)
        if self.stopping.is_set():
            if waited < STOP_WAIT:
                return
            error = StopWaiting(f"Redis did not answer within {STOP_WAIT} s of the stop")
        elif waited < WAIT_BOUND:
            return
        else:
            error = redis.TimeoutError(f"Redis did not answer within {WAIT_BOUND:g} s")
        if self.since == since:  # still that command's wait
            self.cut = (since, error)
            self.connection.disconnect()

    def close(self):
        self.connection.disconnect()


class StopWaiting(Exception):
    """A step given up as the worker stops, Redis having left it unanswered STOP_WAIT
    seconds (frozen): not tried again."""


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
            return keep_trying(lambda: script(self.client, keys, args), self.stopping, patience, writes=True)
        except StopWaiting as error:  # given up, as keep_trying gives up while stopping
            raise redis.TimeoutError(str(error)) from None
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
    """The progress of the job a worker runs (WorkerJob.progress): its meta, and the
    percentages it reported, taken by the step that ends the job (`take`: its event then
    says them, events.BEFORE), or sent by a thread of its own once they have waited
    FLUSH_AFTER (progress.lua: one event, the last percentage, the others before it)."""

    def __init__(self, steps, marker):
        self.steps = steps
        self.marker = marker
        self.job = None  # the job whose progress is queued
        self.meta = None  # its meta, serialized as the job ended (settle)
        self.percents = []  # as it reported them
        self.queued_at = None
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._send_late, name="progress", daemon=True)
        self.thread.start()

    def add(self, job, percent):
        """Queue `job`'s progress (progress.report_progress), and its meta, serialized when
        it is sent; the job is running."""
        with self.steps.lock:
            self.percents.append(percent)
            self.job = job
            if self.queued_at is None:
                self.queued_at = time.monotonic()

    def settle(self, job):
        """Serialize `job`'s meta as the job leaves it, if its progress is to be sent: in
        the job's run, whose failure a meta that cannot be serialized is, as RQ's save_meta
        would have failed it. (Once per job: serialized at each progress, it cost a fifth
        of a notification job's Python.)"""
        with self.steps.lock:
            if self.job is job:
                self.meta = job.serializer.dumps(job.meta)

    def take(self):
        """(meta or '', percentages) queued, which the caller sends (holding steps.lock)."""
        meta, percents = self.meta, self.percents
        if meta is None and self.job is not None:  # sent while the job runs
            try:
                meta = self.job.serializer.dumps(self.job.meta)
            except Exception:  # noqa: BLE001 - the job's own error, at its end (settle)
                meta = None
        self.job, self.meta, self.percents, self.queued_at = None, None, [], None
        return meta or "", percents

    def close(self):
        self.closed.set()

    def _send_late(self):
        while not self.closed.wait(FLUSH_AFTER):
            self.send_if_late()

    def send_if_late(self):
        """Send the progress that has waited FLUSH_AFTER, unless a step is being sent (it
        goes with the next one)."""
        if self.queued_at is None or time.monotonic() - self.queued_at < FLUSH_AFTER:
            return
        if not self.steps.lock.acquire(blocking=False):
            return
        try:
            if self.queued_at is None or self.steps.unsent is not None:
                return
            job = self.job
            meta, percents = self.take()
            keys = (self.marker, stream_key(job.origin))
            last, before = percents[-1], " ".join(map(str, percents[:-1]))
            args = [0, job.id, meta, created_stamp(job), last, before]
            try:  # once: the worker's next step sends it again, as it was, if it failed
                self.steps.send(lua.PROGRESS, keys, args, patience=0)
            except Exception as error:  # noqa: BLE001 - this thread must outlive any error
                if worth_retrying(error):
                    outage.lost(error)
                else:
                    warn(f"could not send a job's progress: {error!r}")
        finally:
            self.steps.lock.release()


class Watch:
    """A thread of a worker that does each of `chores` (callables) every TICK seconds: a
    step unanswered too long cut (StepConnection.cut_if_stuck), a job past its timeout
    stopped (core.WatchedDeathPenalty). None may block, nor wait for Redis."""

    def __init__(self, chores):
        self.chores = list(chores)
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self.run, name="watch", daemon=True)
        self.thread.start()

    def run(self):
        while not self.closed.wait(TICK):
            for chore in self.chores:
                try:
                    chore()
                except Exception as error:  # noqa: BLE001 - the watch must outlive any error
                    warn(f"worker's watch: {chore.__qualname__} failed: {error!r}")

    def close(self):
        self.closed.set()
