"""Processing a queue N jobs at a time, as Kue's `queue.process(type, n, fn)` did.

Each of the N is a child process running one worker (workers.work). The parent only
supervises: it forwards SIGTERM/SIGINT to the children, which finish the job in hand and
leave the rest queued, replaces a child that ended on its own, and exits 0 on SIGTERM,
130 on Ctrl-C, within STOP_DEADLINE seconds whatever Redis is doing: a child still running
by then is killed (its job, if any, is reported abandoned later).
"""

import os
import signal
import sys
import time

from .connection import FatalRedisError, connect_for_jobs
from .console import debug, warn
from .processes import POLL, STOP_DEADLINE, die_with_parent
from .shutdown import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from .workers import RESTART_DELAY, work

EXIT_FATAL = 78  # a child's word that retrying cannot help (sysexits' EX_CONFIG)


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
    except FatalRedisError:
        code = EXIT_FATAL  # its line is printed
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException as error:  # a child must never unwind into the parent's code
        warn(f"worker {os.getpid()} crashed: {error!r}")
        code = 1
    finally:
        sys.stdout.flush()
        os._exit(code)


def run_workers(job_functions, count):
    """Run `count` workers on the queues of `job_functions` ({queue name: the import path of
    its job function}: nothing else runs) until SIGTERM/SIGINT; return the exit code."""
    # Once here, so a wrong password or a bad REDIS_URL is said once, not once per child.
    connect_for_jobs().close()
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

    def target():
        work(job_functions)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for _ in range(count):
        children.add(spawn(target))  # one at a time: a signal now reaches those started
    fatal = False
    while children:
        if stop_signal is not None:
            forward(stop_signal, None)  # again: a child forked as the signal came missed it
            reap_until(children, STOP_DEADLINE)
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
        # A worker ends on its own only when something went wrong (RQ quits its loop on
        # an unexpected error): replace it, unless we are stopping.
        if stop_signal is None:
            debug(f"worker {pid} ended (status {status}); starting another")
            time.sleep(RESTART_DELAY)
            if stop_signal is None:
                children.add(spawn(target))
    if fatal:
        return EXIT_FAILED
    return EXIT_INTERRUPTED if stop_signal == signal.SIGINT else EXIT_OK


def reap_until(children, seconds):
    """Wait for the children to end; kill those still running after `seconds`."""
    deadline = time.monotonic() + seconds
    while children and time.monotonic() < deadline:
        for pid in list(children):
            if os.waitpid(pid, os.WNOHANG)[0]:
                children.discard(pid)
        time.sleep(POLL)
    for pid in children:
        warn(f"worker {pid} did not stop within {seconds:.0f}s: killed")
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    children.clear()
