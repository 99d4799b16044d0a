"""Child processes that never outlive their parent and stop when told, in time."""

import ctypes
import os
import signal
import subprocess
import time

from .console import warn

PR_SET_PDEATHSIG = 1
# Seconds from a stop signal to the last child gone: the spec allows 5 for the whole stop.
STOP_DEADLINE = 4.5
POLL = 0.05  # seconds between two looks at a child
NUDGE_EVERY = 0.5  # seconds between two SIGTERMs to a child's session that is still running


def die_with_parent(sig=signal.SIGTERM):
    """Ask Linux to send `sig` to this process if its parent dies (even by SIGKILL)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
    except (OSError, AttributeError):
        pass  # not Linux: orphans finish their work and stop on their own signal


def start_session(command, **options):
    """Start `command` in a session of its own, so that a terminal's Ctrl-C reaches only us
    (see supervise), dying with this process."""
    return subprocess.Popen(command, start_new_session=True, preexec_fn=die_with_parent, **options)


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
