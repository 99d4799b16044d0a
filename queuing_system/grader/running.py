"""A script under grade, running in the background: its output read as it comes, capped.

The script runs in a session of its own (a signal to its process group reaches nothing of
the grader's), with the task's mark in its environment (isolation.py). Its stdout and
stderr are read in chunks by threads, kept as bytes up to OUTPUT_CAP each: a script that
prints more is stopped there, so a runaway print loop costs the grader a megabyte, not a
gigabyte. Its end is the end of its process, not of its pipes: a daemon it left holding
them does not make it look hung.
"""

import os
import signal
import subprocess
import threading
import time

OUTPUT_CAP = 1 << 20  # bytes kept of a script's stdout, and of its stderr; it is stopped beyond
STOP_WITHIN = 5  # seconds a script has to stop after SIGTERM, as the spec says
SETTLE = 0.3  # seconds to read what an ended script left in its pipes


class Stream:
    """One pipe of a script, read to its end (or to the cap) by a thread."""

    def __init__(self, pipe, changed, on_overflow):
        self.data = bytearray()
        self.overflowed = False
        self.closed = threading.Event()
        self._pipe = pipe
        self._changed = changed
        self._on_overflow = on_overflow
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        fd = self._pipe.fileno()
        try:
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                with self._changed:
                    room = OUTPUT_CAP - len(self.data)
                    self.data += chunk[:room]
                    self._changed.notify_all()
                if len(chunk) > room:
                    self.overflowed = True
                    self._on_overflow()
                    break
        except OSError:
            pass
        finally:
            self._pipe.close()  # beyond the cap, a writer gets EPIPE instead of filling memory
            self.closed.set()
            with self._changed:
                self._changed.notify_all()


class Script:
    """A script (or any command) started for a task."""

    def __init__(self, name, argv, cwd, env):
        self.name = name
        self.changed = threading.Condition()
        self.started = time.monotonic()
        self.ended_at = None
        self.stop_seconds = None  # how long it took to stop after SIGTERM
        self.killed = False  # the grader had to SIGKILL it
        self.stopped = False  # the grader asked it to stop (its exit code is judged as a stop)
        self.timed_out = False  # it ran past the time it was given to end by itself
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.stdout = Stream(self.process.stdout, self.changed, self.kill)
        self.stderr = Stream(self.process.stderr, self.changed, self.kill)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        self.process.wait()
        self.ended_at = time.monotonic()
        with self.changed:
            self.changed.notify_all()

    @property
    def pid(self):
        return self.process.pid

    def running(self):
        return self.process.poll() is None

    @property
    def code(self):
        return self.process.poll()

    @property
    def overflowed(self):
        return self.stdout.overflowed or self.stderr.overflowed

    @property
    def out_bytes(self):
        with self.changed:
            return bytes(self.stdout.data)

    @property
    def err_text(self):
        with self.changed:
            return bytes(self.stderr.data).decode("utf-8", "backslashreplace")

    def lines(self):
        """Its stdout so far, as lines (a last line without its newline included)."""
        text = self.out_bytes.decode("utf-8", "backslashreplace")
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        return lines

    def complete_lines(self):
        """The lines it has ended with a newline so far."""
        return self.out_bytes.decode("utf-8", "backslashreplace").split("\n")[:-1]

    def wait_until(self, condition, timeout):
        """Wait until condition() holds, the script ended, or `timeout` seconds passed;
        condition() is checked again whenever the script prints or ends. True if it held."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                if condition():
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or not self.running():
                    return condition()
                self.changed.wait(min(left, 0.1))

    def wait_for_lines(self, count, timeout, matching=None):
        """Wait for `count` complete lines (those `matching`, if given); True if they came."""

        def enough():
            lines = self.complete_lines()
            return len([line for line in lines if matching(line)] if matching else lines) >= count

        return self.wait_until(enough, timeout)

    def wait(self, timeout):
        """Wait for its end; its exit code, or None if still running after `timeout`."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.settle()
        return self.process.returncode

    def settle(self):
        """Give the readers a moment to take what the ended script left in its pipes (a
        daemon holding them open must not keep us waiting)."""
        self.stdout.closed.wait(SETTLE)
        self.stderr.closed.wait(SETTLE)

    def stop(self, sig=signal.SIGTERM, within=STOP_WITHIN):
        """Ask it to stop as a terminal's user would; SIGKILL its group if it has not
        after `within` seconds. Returns its exit code (None if it had to be killed)."""
        if self.running():
            self.stopped = True
            asked = time.monotonic()
            try:
                self.process.send_signal(sig)
            except ProcessLookupError:
                pass
            code = self.wait(within)
            self.stop_seconds = time.monotonic() - asked
            if code is not None:
                return code
            self.kill()
            self.killed = True
            return None
        self.settle()
        return self.process.returncode

    def kill(self):
        """SIGKILL the script's process group (what it started outside it is the task's
        business: isolation.kill_marked)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
