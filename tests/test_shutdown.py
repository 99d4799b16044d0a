"""shutdown.run: a stop request ends the script even when it lands inside a finalizer.

Python drops an exception raised while a finalizer runs (it prints "Exception ignored"
and goes on), and a signal handler's exception is no different: a SIGTERM that came while
the garbage collector ran a ZipFile's __del__ left the seat app serving forever once.
"""

import signal
import subprocess
import sys
import textwrap

import pytest

from queuing_system.grader.harness import scripts_dir
from queuing_system.shutdown import EXIT_INTERRUPTED, EXIT_OK

ROOT = scripts_dir()  # the checkout: conftest.py points the harness at it

# The stop arrives inside a __del__ that the garbage collector runs: the script signals
# itself from there, so the handler raises in the finalizer every time.
SCRIPT = textwrap.dedent("""
    import gc, os, signal, sys, time
    from queuing_system.shutdown import run

    class SignalsWhenCollected:
        def __init__(self):
            self.cycle = self  # only the collector frees it

        def __del__(self):
            os.kill(os.getpid(), signal.{signal})
            time.sleep(0.05)  # the handler runs here, inside the finalizer

    def main():
        try:
            SignalsWhenCollected()
            gc.collect()
            while True:
                time.sleep(0.01)
        finally:
            print("cleaned up", flush=True)

    run(main)
""")


@pytest.mark.parametrize("sig, code", [("SIGTERM", EXIT_OK), ("SIGINT", EXIT_INTERRUPTED)])
def test_a_stop_that_lands_in_a_finalizer_still_stops_the_script(sig, code):
    try:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT.format(signal=sig)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"still running 10 s after {sig}; stderr: {error.stderr!r}")
    assert (done.returncode, done.stdout, done.stderr) == (code, "cleaned up\n", "")


def test_a_child_whose_parent_died_before_it_asked_to_die_with_it_stops_at_once():
    """The parent's death signal is asked for after the fork: a parent gone before that
    sends nothing, so the child looks (left running, a server process outlived its app)."""
    code = textwrap.dedent(
        """
        import os, signal, time
        from queuing_system.processes import die_with_parent
        pid = os.fork()
        if pid == 0:
            die_with_parent(parent=-1)  # as if the parent had died before the request
            time.sleep(5)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == str(-signal.SIGTERM), done.stderr
