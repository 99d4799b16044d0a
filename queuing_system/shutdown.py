"""Running a script's main() so that Ctrl-C, SIGTERM and a lost server end it cleanly.

Exit codes follow the shell's convention: 0 on success and on SIGTERM (a requested stop),
130 on Ctrl-C, 1 when Redis went away mid-run or refused us for good. Never a traceback.
"""

import signal
import sys

import redis

from .connection import FatalRedisError, Stopped, describe
from .console import warn

EXIT_OK = 0
EXIT_FAILED = 1
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
    except Stopped:
        code = EXIT_OK
    except FatalRedisError:
        code = EXIT_FAILED  # its line is already printed
    except redis.ConnectionError as error:
        warn(f"Lost the connection to Redis: {describe(error)}")
        code = EXIT_FAILED
    sys.exit(code or EXIT_OK)
