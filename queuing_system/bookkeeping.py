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

import redis

from .connection import retry_delays
from .console import warn

FLUSH_AFTER = 0.05  # seconds a queued write may wait while a job runs
CLOSE_PATIENCE = 10  # seconds a stopping worker waits for Redis to take its last writes


class Outbox:
    """Writes queued on one MULTI/EXEC pipeline, sent together by `flush()`.

    Thread-safe: the worker's thread queues and flushes, a timer thread flushes what has
    waited FLUSH_AFTER. A lost connection is retried until Redis answers, so what is queued
    (a job's outcome) is not dropped; only `close()` gives up, after its patience, and says so.
    """

    def __init__(self, connection):
        self.pipeline = connection.pipeline(transaction=True)
        self.lock = threading.RLock()
        self.followups = []  # (reply index, function of the reply), run after a flush
        self.queued_at = None
        self.stopping = threading.Event()
        self.timer = threading.Thread(target=self._flush_late_writes, name="outbox", daemon=True)
        self.timer.start()

    def add(self, write):
        """Queue the commands `write(pipeline)` makes."""
        with self.lock:
            write(self.pipeline)
            if self.queued_at is None:
                self.queued_at = time.monotonic()

    def then(self, followup):
        """After the next flush, call `followup(reply)` with the reply of the last command queued."""
        with self.lock:
            self.followups.append((len(self.pipeline.command_stack) - 1, followup))

    def flush(self, give_up_at=None):
        """Send what is queued; retry while Redis is unreachable, until `give_up_at`
        (a time.monotonic() value) if given, then drop it with a warning."""
        with self.lock:
            if not self.pipeline.command_stack:
                return
            commands, followups = list(self.pipeline.command_stack), self.followups
            self.followups, self.queued_at = [], None
            replies = self._execute(commands, give_up_at)
        if replies is None:
            return
        for index, followup in followups:
            followup(replies[index])

    def _execute(self, commands, give_up_at):
        for delay in retry_delays():
            try:
                return self.pipeline.execute()
            except redis.ConnectionError as error:
                self.pipeline.reset()
                if give_up_at is not None and time.monotonic() >= give_up_at:
                    warn(f"Gave up sending {len(commands)} queued writes: {error}")
                    return None
                # EXEC may have run before the connection dropped: sending it again can only
                # repeat an event (readers ignore a second outcome) or a counter increment.
                warn(f"Waiting for Redis to come back: {error}")
                self.pipeline.command_stack = list(commands)
                time.sleep(delay)

    def close(self, patience=CLOSE_PATIENCE):
        """Send what is queued (waiting up to `patience` seconds for Redis) and stop the timer."""
        self.stopping.set()
        self.flush(give_up_at=time.monotonic() + patience)

    def _flush_late_writes(self):
        while not self.stopping.wait(FLUSH_AFTER):
            with self.lock:
                late = self.queued_at is not None and time.monotonic() - self.queued_at >= FLUSH_AFTER
                if late:
                    try:
                        self.flush()
                    except Exception as error:  # the worker's own flush will raise it again
                        warn(f"could not send queued writes: {error!r}")
