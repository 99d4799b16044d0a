"""Running a script's main() so that Ctrl-C, SIGTERM and a lost server end it cleanly, and
what a Flask app of ours does as its server starts and stops (on_start, on_shutdown).

Exit codes follow the shell's convention: 0 on success and on SIGTERM (a requested stop),
130 on Ctrl-C, 1 when Redis went away mid-run, refused us for good or could not serve
(said in one line on stderr). Never a traceback (QUEUING_DEBUG=1 shows it).
"""

import os
import signal
import sys
import threading
import traceback

import redis

from .connection import CANNOT_SERVE, FatalRedisError, Stopped, cannot_serve_now, describe
from .console import debugging, warn

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RESEND_AFTER = 0.01  # seconds: the finalizer that swallowed a stop has returned by then


class Terminated(SystemExit):
    """SIGTERM's stop request: a normal exit, so `finally` blocks run."""


def terminate(signum, frame):
    raise Terminated(EXIT_OK)


def on_start(app, callback):
    """Have `callback` run once the Flask `app` is made, before its server listens
    (web.app.serve): e.g. the seat sale's joining, which waits for Redis. Kept in
    app.extensions["on_start"]; a server that runs none (flask run) leaves it to the
    extension's before_request."""
    app.extensions.setdefault("on_start", []).append(callback)


def on_shutdown(app, callback):
    """Have `callback` run when the Flask `app`'s server stops (web.app.serve): what an
    extension's init_app registers, e.g. a background worker's stop or the seat sale's
    goodbye. Kept in app.extensions["on_shutdown"], as Flask keeps an extension's state."""
    app.extensions.setdefault("on_shutdown", []).append(callback)


def exit_on_sigterm():
    signal.signal(signal.SIGTERM, terminate)
    keep_stops_raised_in_finalizers()


def keep_stops_raised_in_finalizers():
    """A signal's exception that lands while a finalizer runs (a `__del__` the garbage
    collector called, say) is printed as "Exception ignored" and dropped by Python: the
    script would go on as if never stopped. Send such a stop again, from outside it."""
    previous = sys.unraisablehook

    def resend_lost_stop(unraisable):
        if isinstance(unraisable.exc_value, Terminated):
            resend(signal.SIGTERM)
        elif isinstance(unraisable.exc_value, KeyboardInterrupt):
            resend(signal.SIGINT)
        else:
            previous(unraisable)

    sys.unraisablehook = resend_lost_stop


def resend(signum):
    # Not from here: the handler would raise inside this hook, and be dropped again.
    timer = threading.Timer(RESEND_AFTER, os.kill, (os.getpid(), signum))
    timer.daemon = True
    timer.start()


def run(main):
    """Run a script's main() and exit with its code (exit_code)."""
    sys.exit(exit_code(main))


def exit_code(main):
    """main()'s exit code: 0 (or main's), 0 on SIGTERM, 130 on Ctrl-C, 1 when Redis
    refused us for good, went away mid-run or could not serve (a reply error such as OOM
    that the script's retries gave up on); never a traceback."""
    exit_on_sigterm()
    # Ctrl-C is a stop even for a script started with it ignored (`python x.py &` in a shell
    # script): Python then leaves SIGINT ignored, and `kill -INT` would do nothing.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = main()
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except (Stopped, Terminated):
        code = EXIT_OK
    except FatalRedisError:
        code = EXIT_FAILED  # its line is already printed
    except redis.RedisError as error:  # what the script's own retries gave up on: one line
        if debugging():
            traceback.print_exc()
        warn(redis_trouble(error))
        code = EXIT_FAILED
    return code or EXIT_OK


def redis_trouble(error):
    """The one line on stderr for a Redis error that ended a script."""
    if cannot_serve_now(error):  # BUSY, OOM, READONLY...
        return f"{CANNOT_SERVE}: {describe(error)}"
    if isinstance(error, redis.ConnectionError):
        return f"Lost the connection to Redis: {describe(error)}"
    if isinstance(error, redis.TimeoutError):
        return f"Redis did not answer in time: {describe(error)}"
    return f"Redis refused a command: {describe(error)}"
