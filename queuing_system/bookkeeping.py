"""RQ's own bookkeeping writes for a job, sent in fewer round trips.

Stock RQ makes 23 round trips to Redis per job (`benchmarks/bench.py worker`), and on this
kind of machine a round trip costs more CPU (two system calls and a context switch) than
the job itself. Our worker queues the same writes (RQ's own methods, given a pipeline) in
an `Outbox` and sends them together, in one MULTI/EXEC:

- a job's end (status, result, registries, its completed event) goes with the worker's
  next dequeue, which comes right after it;
- a job's progress events go with whatever is sent next, or after FLUSH_AFTER seconds if
  the job is still running, as Kue's `job.progress()` returned before its write was done.
"""

import threading
import time

from .connection import RETRYABLE, describe, outage, retry_delays
from .console import warn

FLUSH_AFTER = 0.05  # seconds a queued write may wait while a job runs
# Seconds a stopping worker waits for an unreachable Redis to take its last writes: the
# whole stop must fit in the 5 s the spec allows.
STOP_PATIENCE = 2.0
LATE_RETRY_AFTER = 1.0  # seconds between two tries of the timer while Redis is away


class Outbox:
    """Writes queued on one MULTI/EXEC pipeline, sent together by `flush()`.

    Thread-safe: the worker's thread queues and flushes, a timer thread sends what has
    waited FLUSH_AFTER. While Redis is unreachable a flush waits for it (one note on
    stderr per outage), so what is queued (a job's outcome) is not dropped, unless the
    worker is stopping (`stopping`, a threading.Event): then it gives up after
    STOP_PATIENCE seconds and says what it dropped.
    """

    def __init__(self, connection, stopping=None):
        self.pipeline = connection.pipeline(transaction=True)
        self.stopping = stopping or threading.Event()
        self.lock = threading.RLock()
        self.followups = []  # (reply index, function of the reply), run after a flush
        self.queued_at = None
        self.closed = threading.Event()
        self.timer = threading.Thread(target=self._send_late_writes, name="outbox", daemon=True)
        self.timer.start()

    def add(self, write):
        """Queue the commands `write(pipeline)` makes: all of them, or none if it raises."""
        with self.lock:
            queued = len(self.pipeline.command_stack)
            try:
                write(self.pipeline)
            except BaseException:
                del self.pipeline.command_stack[queued:]
                raise
            if self.queued_at is None:
                self.queued_at = time.monotonic()

    def then(self, followup):
        """After the next flush, call `followup(reply)` with the reply of the last command queued."""
        with self.lock:
            self.followups.append((len(self.pipeline.command_stack) - 1, followup))

    def flush(self, patience=None):
        """Send what is queued, waiting for Redis while it is away. Gives up after
        `patience` seconds, or STOP_PATIENCE once stopping, dropping the writes with a
        warning; returns False then, True once sent."""
        with self.lock:
            give_up_at = None if patience is None else time.monotonic() + patience
            for delay in retry_delays():
                try:
                    sent = self._send()
                    break
                except RETRYABLE as error:
                    outage.lost(error)
                    if give_up_at is None and self.stopping.is_set():
                        give_up_at = time.monotonic() + STOP_PATIENCE
                    left = None if give_up_at is None else give_up_at - time.monotonic()
                    if left is not None and left <= 0:
                        self._drop(error)
                        return False
                    if left is None:
                        self.stopping.wait(delay)
                    else:
                        time.sleep(min(delay, left))
        self._follow_up(*sent)
        return True

    def _send(self):
        """One attempt (the caller holds the lock); on a lost connection the writes stay queued."""
        commands, followups = list(self.pipeline.command_stack), self.followups
        if not commands:
            return [], []
        try:
            replies = self.pipeline.execute()
        except RETRYABLE:
            # EXEC may have run before the connection dropped: sending it again can only
            # repeat an event (readers ignore a second outcome) or a counter increment.
            self.pipeline.command_stack = commands
            raise
        outage.back()
        self.followups, self.queued_at = [], None
        return replies, followups

    def _drop(self, error):
        warn(f"Gave up sending {len(self.pipeline.command_stack)} queued writes: {describe(error)}")
        self.pipeline.reset()
        self.followups, self.queued_at = [], None

    @staticmethod
    def _follow_up(replies, followups):
        for index, followup in followups:
            followup(replies[index])

    def close(self, patience=STOP_PATIENCE):
        """Send what is queued (waiting up to `patience` seconds for Redis) and stop the timer."""
        self.closed.set()
        self.flush(patience)

    def _send_late_writes(self):
        while not self.closed.wait(FLUSH_AFTER):
            with self.lock:
                late = self.queued_at is not None and time.monotonic() - self.queued_at >= FLUSH_AFTER
                if not late:
                    continue
                try:
                    sent = self._send()
                except RETRYABLE as error:
                    outage.lost(error)  # the worker's own flush waits for Redis; try again later
                    self.queued_at = time.monotonic() + LATE_RETRY_AFTER
                    continue
                except Exception as error:  # the worker's own flush will raise it again
                    warn(f"could not send queued writes: {error!r}")
                    continue
            self._follow_up(*sent)
