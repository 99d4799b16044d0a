"""Printing the events of a creator's jobs as they come, from a background thread: Kue's
`job.on(...)` listeners."""

import queue
import threading

from . import callbacks
from .connection import wait_until_connected
from .console import say, warn
from .events import OUTCOMES, stamps_of
from .follower import EventFollower


class JobReporter:
    """Hands the events of the jobs it watches to `on_event`, from a background thread, and
    prints the line it returns, if any (one write, untrusted text escaped: console.say).

    Kue's `job.on(...)` listeners kept reporting as long as the process lived; this does the
    same for a function that returns before its jobs end (8_job) and for a server that
    creates jobs on every request (100_seat), with one thread for all of its jobs. Make it
    before creating the jobs, then `watch` their ids. Made, it waits for Redis to answer
    (said on stderr), as a script's start does: a wrong password or REDIS_URL is said in
    the spec's line, and ends the script (exit 1).

    Its jobs name the RQ callbacks that write their events, as an EventFollower's do:
    `JobReporter.report_success` and `report_failure` (callbacks.py).
    """

    report_success = staticmethod(callbacks.report_success)
    report_failure = staticmethod(callbacks.report_failure)

    def __init__(self, connection, queue_name, on_event):
        wait_until_connected(connection, quiet=True)  # before it reads where the events are
        self.stopping = threading.Event()
        self.follower = EventFollower(connection, queue_name, self.stopping)
        self.on_event = on_event
        self.pending = {}  # {job id: its created_at stamp, None until read}
        self.changed = threading.Condition()
        self.emptied = queue.SimpleQueue()  # a token each time the last pending job ends
        self.thread = threading.Thread(target=self._run, name="job-events", daemon=True)

    def watch(self, jobs):
        """Report the events of `jobs` (RQ jobs, or their ids) until each has ended."""
        stamps = stamps_of(jobs)
        with self.changed:
            self.pending.update(stamps)
            if not self.thread.is_alive() and not self.stopping.is_set():
                self.thread.start()

    def wait(self):
        """Until every watched job has completed or failed.

        The main thread waits here, and SIGTERM's handler raises there: not inside a
        Condition's wait, which it can leave with its lock let go, so that leaving the
        `with` then fails with "cannot release un-acquired lock" (seen in CI). A
        SimpleQueue's get is one call into C, and is left whole."""
        while True:
            with self.changed:
                if not self.pending:
                    return
            self.emptied.get()

    def stop(self):
        """Report nothing more, at once. The thread ends by itself when its read returns
        (within READ_BLOCK_MS): joining it would make every stop wait that long."""
        with self.changed:  # not while it reports an event
            self.stopping.set()

    def read_stamps(self):
        """The created_at stamps of the jobs watched by id alone, read here, off the
        watcher's thread (a request of the seat app): a job created an instant ago."""
        with self.changed:
            unknown = [job_id for job_id, stamp in self.pending.items() if stamp is None]
        if not unknown:
            return
        stamps = self.follower.stamps(unknown)
        with self.changed:
            for job_id, stamp in stamps.items():
                if job_id in self.pending and self.pending[job_id] is None:
                    self.pending[job_id] = stamp

    def _run(self):
        while not self.stopping.is_set():
            try:
                self.read_stamps()
                with self.changed:
                    pending = dict(self.pending)
                events = self.follower.next_events(pending)
            except Exception as error:  # the thread outlives a bad read; the next one goes on
                warn(f"could not read job events: {error!r}")
                self.stopping.wait(1.0)
                continue
            for event in events:
                with self.changed:
                    if self.stopping.is_set():
                        return
                    if not event.belongs_to(self.pending):
                        continue  # not a job it watches, or another job that had its id
                    # Reported before the job counts as ended, so wait() never returns
                    # ahead of the job's last line.
                    line = self.on_event(event)
                    if line is not None:
                        say(line)
                    if event.kind in OUTCOMES:
                        del self.pending[event.job_id]
                        if not self.pending:
                            self.emptied.put(True)
