"""A script under grade, running in the background: its output read as it comes, capped.

The script runs under the grader's launcher (launcher.py), in a sandbox of its own where
one can be made (sandbox.py): the launcher tells, on a pipe of its own, when the script
ended, how, and what it left running. The script's stdout and stderr are read in chunks
by threads, kept as bytes up to OUTPUT_CAP each: a script that prints more is stopped
there, so a runaway print loop costs the grader a megabyte, not a gigabyte. Its end is the
end of its process, not of its pipes: a daemon it left holding them does not make it
look hung.
"""

import contextlib
import os
import signal
import subprocess
import threading
import time

from .isolation import children

OUTPUT_CAP = 1 << 20  # bytes kept of a script's stdout, and of its stderr; it is stopped beyond
STOP_WITHIN = 5  # seconds a script has to stop after SIGTERM, as the spec says
SETTLE = 0.3  # seconds to read what an ended script left in its pipes
SANDBOX_GONE = 2  # seconds a killed sandbox's processes may take to be gone
LAUNCHER_GONE = 10  # seconds the launcher may take to leave once its script ended


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
    """A script (or any command) started for a task, through a sandbox.Launch."""

    def __init__(self, name, launch, sandboxed):
        self.name = name
        self.sandboxed = sandboxed
        self.changed = threading.Condition()
        self.started = time.monotonic()
        self.ended_at = None
        self.exit_code = None  # as the launcher saw the script end
        self.left = []  # the command lines of what it left running (killed)
        self.script_pid = None  # as the launcher says (in a sandbox: in the sandbox's PID namespace)
        self.launcher_done = threading.Event()
        self.stop_seconds = None  # how long it took to stop after SIGTERM
        self.killed = False  # the grader had to SIGKILL it
        self.stopped = False  # the grader asked it to stop (its exit code is judged as a stop)
        self.timed_out = False  # it ran past the time it was given to end by itself
        try:
            self.process = subprocess.Popen(
                launch.command,
                cwd=launch.cwd,
                env=launch.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                pass_fds=launch.pass_fds,
            )
        finally:
            for fd in launch.pass_fds:
                os.close(fd)
        self.stdout = Stream(self.process.stdout, self.changed, self.kill)
        self.stderr = Stream(self.process.stderr, self.changed, self.kill)
        threading.Thread(target=self._listen, args=(launch.status,), daemon=True).start()
        threading.Thread(target=self._watch, daemon=True).start()

    def _listen(self, fd):
        """What the launcher tells: `pid N`, `exit CODE`, `left [...]`, `done`."""
        with os.fdopen(fd, "rb") as status:
            for line in status:
                word, _, rest = line.decode(errors="replace").strip().partition(" ")
                with self.changed:
                    if word == "pid":
                        self.script_pid = int(rest)
                    elif word == "exit" and self.exit_code is None:
                        self.exit_code = int(rest)
                        self.ended_at = time.monotonic()
                    elif word == "left":
                        self.left = rest.split("\t")
                    self.changed.notify_all()
        self.launcher_done.set()

    def _watch(self):
        self.process.wait()
        self.launcher_done.wait(1)  # what it said on its way out arrives first
        with self.changed:
            if self.ended_at is None:
                self.ended_at = time.monotonic()
            self.changed.notify_all()

    @property
    def pid(self):
        return self.process.pid

    @property
    def code(self):
        """The script's exit code (negative: the signal that killed it), None while it runs.
        A launcher killed (the grader's SIGKILL) takes its script with it."""
        if self.exit_code is not None:
            return self.exit_code
        code = self.process.poll()
        if code is None or not self.launcher_done.is_set():
            return None
        return code if code <= 0 or not self.sandboxed or code < 128 else 128 - code

    def running(self):
        return self.code is None

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
        self.wait_until(lambda: False, timeout)
        if self.running():
            return None
        self.settle()
        return self.code

    def wait_gone(self, timeout=LAUNCHER_GONE):
        """Wait until the launcher has left (it gives what the script left running a moment
        to end by itself); kill it if it has not by then."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()
        self.launcher_done.wait(1)

    def settle(self):
        """Give the readers a moment to take what the ended script left in its pipes (a
        daemon holding them open must not keep us waiting)."""
        self.stdout.closed.wait(SETTLE)
        self.stderr.closed.wait(SETTLE)

    def launcher_pid(self):
        """The launcher's pid: the process itself, or bwrap's child (the sandbox's PID 1)."""
        if not self.sandboxed:
            return self.process.pid
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and self.process.poll() is None:
            found = children(self.process.pid)
            if found:
                return found[0]
            time.sleep(0.01)  # bwrap is still making the sandbox
        return None

    def send(self, sig):
        """Send `sig` to the script, through its launcher (as `kill PID` would: the script
        alone, not its group)."""
        pid = self.launcher_pid()
        if pid:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig=signal.SIGTERM, within=STOP_WITHIN):
        """Ask it to stop as a terminal's user would; SIGKILL it if it has not after `within`
        seconds. Returns its exit code (None if it had to be killed)."""
        if self.running():
            self.stopped = True
            asked = time.monotonic()
            self.send(sig)
            code = self.wait(within)
            self.stop_seconds = time.monotonic() - asked
            if code is not None:
                return code
            self.kill()
            self.killed = True
            return None
        self.settle()
        return self.code

    def kill(self):
        """SIGKILL the script, and all it started. In a sandbox, its PID 1 first: the kernel
        ends the whole PID namespace with it, and bwrap leaves only once every process in it
        is gone (bwrap killed first leaves at once, its sandbox dying behind it: a creator
        killed so enqueued one more job after the grader had emptied Redis). Then the
        launcher's process group; unsandboxed, the script's own group too, should it have
        made one (what it started in a session of its own is found at the task's end)."""
        if self.sandboxed and self.process.poll() is None:
            pid = self.launcher_pid()
            if pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(SANDBOX_GONE)
        groups = (self.process.pid, None if self.sandboxed else self.script_pid)
        if self.sandboxed and self.process.returncode is not None:
            groups = ()  # bwrap gone and reaped: its sandbox with it, its pid maybe another's now
        for group in groups:
            if group:
                try:
                    os.killpg(group, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
