"""Processing a queue N jobs at a time, as Kue's `queue.process(type, n, fn)` did.

Each of the N is a child process running one worker (workers.work). The parent only
supervises: it forwards SIGTERM/SIGINT to the children, which finish the job in hand and
leave the rest queued, replaces a child that ended on its own, and exits 0 on SIGTERM,
130 on Ctrl-C.
"""

import ctypes
import os
import signal
import sys
import time

from .console import debug
from .shutdown import EXIT_INTERRUPTED, EXIT_OK
from .workers import RESTART_DELAY, work

PR_SET_PDEATHSIG = 1


def die_with_parent():
    """Ask Linux to send SIGTERM to this child if the supervisor is killed (even by SIGKILL)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: orphans finish their job and stop on their own signal


def spawn(target):
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        die_with_parent()
        target()
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException as error:  # a child must never unwind into the parent's code
        print(f"worker {os.getpid()} crashed: {error!r}", file=sys.stderr, flush=True)
        code = 1
    finally:
        sys.stdout.flush()
        os._exit(code)


def run_workers(queue_names, count):
    """Run `count` workers on `queue_names` until SIGTERM/SIGINT; return the exit code."""
    stop_signal = None
    children = set()

    def forward(signum, frame):
        nonlocal stop_signal
        stop_signal = signum
        for pid in children:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def target():
        work(queue_names)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for _ in range(count):
        children.add(spawn(target))  # one at a time: a signal now reaches those started
    while children:
        pid, status = os.wait()
        children.discard(pid)
        # A worker ends on its own only when something went wrong (RQ quits its loop on
        # an unexpected error, e.g. Redis gone): replace it, unless we are stopping.
        if stop_signal is None:
            debug(f"worker {pid} ended (status {status}); starting another")
            time.sleep(RESTART_DELAY)
            if stop_signal is None:
                children.add(spawn(target))
    return EXIT_INTERRUPTED if stop_signal == signal.SIGINT else EXIT_OK
