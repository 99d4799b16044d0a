"""Child processes that never outlive their parent and stop when told, in time."""

import ctypes
import functools
import os
import signal
import subprocess
import sys
import time

from .connection import FatalRedisError
from .console import debug, warn
from .shutdown import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, STOP_SIGNALS

PR_SET_PDEATHSIG = 1
# Seconds from a stop signal to the last child gone: the spec allows 5 for the whole stop.
STOP_DEADLINE = 4.5
POLL = 0.05  # seconds between two looks at a child
NUDGE_EVERY = 0.5  # seconds between two SIGTERMs to a child's session that is still running
EXIT_FATAL = 78  # a child's word that retrying cannot help (sysexits' EX_CONFIG)


def die_with_parent(sig=signal.SIGTERM, parent=None):
    """Ask Linux to send `sig` to this process if its parent dies (even by SIGKILL). A
    parent (`parent`, its pid taken before the fork) that died before the request was
    made sends nothing: the child then gets `sig` at once."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
    except (OSError, AttributeError):
        return  # not Linux: orphans finish their work and stop on their own signal
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), sig)


def start_session(command, **options):
    """Start `command` in a session of its own, so that a terminal's Ctrl-C reaches only us
    (see supervise), dying with this process."""
    dies = functools.partial(die_with_parent, parent=os.getpid())
    return subprocess.Popen(command, start_new_session=True, preexec_fn=dies, **options)


def supervise(child, name):
    """Wait for `child` (started by start_session) to end. On SIGTERM or SIGINT, pass it
    one SIGTERM; every NUDGE_EVERY seconds it is still running, SIGTERM its whole session
    again (a process still starting may have missed the first), and kill the session if it
    is still running STOP_DEADLINE seconds later. Returns the signal that stopped us, or
    None if the child ended by itself."""
    received = []

    def stop(signum, frame):
        if not received:
            received.append(signum)
            try:
                child.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not received:
        try:
            child.wait(POLL)  # a timed wait: the signal handler runs between two
            break
        except subprocess.TimeoutExpired:
            pass
    if received and not wait_nudging(child, STOP_DEADLINE):
        warn(f"{name} did not stop within {STOP_DEADLINE:.1f}s: killed")
    kill_session(child)
    return received[0] if received else None


def wait_nudging(child, seconds):
    """Wait up to `seconds` for the child, sending its session SIGTERM every NUDGE_EVERY."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            child.wait(min(NUDGE_EVERY, max(deadline - time.monotonic(), 0)))
            return True
        except subprocess.TimeoutExpired:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                return True
    return child.poll() is not None


def kill_session(child):
    """Kill whatever is left of the child's session (its own children included)."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    child.wait()


def spawn(target, what):
    """Fork a child that runs `target()` and exits with its code, never returning here.

    Stop signals wait while we fork: one that came before the child had set its own
    handlers would run the parent's, in the child, and be lost."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    parent = os.getpid()
    pid = os.fork()
    if pid:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        return pid
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        die_with_parent(parent=parent)  # a SIGTERM now waits for the unblock, and ends the child
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        target()
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except FatalRedisError:
        code = EXIT_FATAL  # its line is printed
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException as error:  # a child must never unwind into the parent's code
        warn(f"{what} {os.getpid()} crashed: {error!r}")
        code = 1
    finally:
        sys.stdout.flush()
        os._exit(code)


def run_children(target, count, what, restart_delay):
    """Run `target` in `count` forked children until SIGTERM/SIGINT, which are passed on to
    them; a child that ends on its own is replaced after `restart_delay` seconds. Returns
    the exit code: 0 on SIGTERM, 130 on Ctrl-C, 1 if a child said retrying cannot help."""
    stop_signal = None
    children = set()

    def forward(signum, frame):
        nonlocal stop_signal
        stop_signal = stop_signal or signum
        for pid in children:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for _ in range(count):
        children.add(spawn(target, what))  # one at a time: a signal now reaches those started
    fatal = False
    while children:
        if stop_signal is not None:
            forward(stop_signal, None)  # again: a child forked as the signal came missed it
            reap_until(children, STOP_DEADLINE, what)
            break
        pid, status = os.waitpid(-1, os.WNOHANG)  # polled: a blocking wait outlives signals
        if not pid:
            time.sleep(POLL)
            continue
        children.discard(pid)
        if os.waitstatus_to_exitcode(status) == EXIT_FATAL:
            fatal = True
            forward(signal.SIGTERM, None)
            continue
        # A child ends on its own only when something went wrong (RQ quits its loop on an
        # unexpected error, say): replace it, unless we are stopping.
        if stop_signal is None:
            debug(f"{what} {pid} ended (status {status}); starting another")
            time.sleep(restart_delay)
            if stop_signal is None:
                children.add(spawn(target, what))
    if fatal:
        return EXIT_FAILED
    return EXIT_INTERRUPTED if stop_signal == signal.SIGINT else EXIT_OK


def reap_until(children, seconds, what):
    """Wait for the children to end; kill those still running after `seconds`."""
    deadline = time.monotonic() + seconds
    while children and time.monotonic() < deadline:
        for pid in list(children):
            if os.waitpid(pid, os.WNOHANG)[0]:
                children.discard(pid)
        time.sleep(POLL)
    for pid in children:
        warn(f"{what} {pid} did not stop within {seconds:.0f}s: killed")
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    children.clear()
