"""The scripts' command lines: argparse's own ArgumentParser, with what every script of the
exercise takes, and a method for the options of the processors and of the creators. (The
apps' command line is serve()'s: web/app.py.)

Part of the public surface: it reaches into the rooms whose options it adds (the worker's,
the job side's), each on first use, so that a script's --help loads only what it shows.
"""

import argparse

from .logs import add_log_arguments


class ArgumentParser(argparse.ArgumentParser):
    """argparse.ArgumentParser, with `--log-format` (how the diagnostic lines on stderr
    look) and, at the end of --help, the environment the script reads (QUEUING_DEBUG
    included). Its add_*_arguments methods add the options of the processors and of the
    creators of tasks 7 and 8."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timing = False  # add_timing_arguments was called: parse_args makes options.timing
        add_log_arguments(self)

    def add_workers_argument(self, default):
        """`--workers N`, jobs processed at a time (else $WORKERS, else `default`), as pm2's
        `--instances N` scaled the original's processors; `--metrics-port PORT`, where to
        serve Prometheus metrics (else $METRICS_PORT, else nowhere)."""
        from .worker.pool import add_workers_argument

        add_workers_argument(self, default)

    def add_timing_arguments(self):
        """`--delay`, `--attempts` and `--backoff`: Kue's `.delay()`, `.attempts()` and
        `.backoff()`, in RQ's whole seconds. parse_args() then gives `options.timing`, a
        jobs.Timing (its retry() is RQ's Retry); none given, the spec's: at once, and once."""
        from .jobs import Timing

        Timing.add_arguments(self)
        self.timing = True

    def parse_known_args(self, args=None, namespace=None):
        options, rest = super().parse_known_args(args, namespace)
        if self.timing:
            from .jobs import Timing

            options.timing = Timing(options.delay, options.attempts, options.backoff)
        return options, rest
