"""Running a script's main() so that Ctrl-C, SIGTERM and a lost server end it cleanly.

Exit codes follow the shell's convention: 0 on success and on SIGTERM (a requested stop),
130 on Ctrl-C, 1 when Redis went away mid-run. Never a traceback.
"""

import signal
import sys

import redis

from .console import warn

EXIT_OK = 0
EXIT_REDIS_LOST = 1
EXIT_INTERRUPTED = 130


def exit_on_sigterm():
    """Turn SIGTERM into a normal exit (SystemExit(0)) so `finally` blocks run."""

    def terminate(signum, frame):
        raise SystemExit(EXIT_OK)

    signal.signal(signal.SIGTERM, terminate)


def run(main):
    exit_on_sigterm()
    try:
        code = main()
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except redis.ConnectionError as error:
        warn(f"Lost the connection to Redis: {error}")
        code = EXIT_REDIS_LOST
    sys.exit(code or EXIT_OK)
