"""What the scripts print: spec lines on stdout, diagnostics on stderr."""

import os
import sys


def say(line):
    """Print one spec line on stdout, at once.

    Flushed because several processes (workers, apps) share one terminal or pipe,
    and a line still in a buffer is lost if the process is killed.
    """
    print(line, flush=True)


def print_reply(reply):
    """The Python counterpart of node_redis's `redis.print`.

    redis-py turns the `OK` status reply into True; the original printed the raw reply.
    """
    say(f"Reply: {'OK' if reply is True else reply}")


def debug(message):
    """A diagnostic on stderr, shown only when QUEUING_DEBUG is set."""
    if os.environ.get("QUEUING_DEBUG"):
        print(message, file=sys.stderr, flush=True)


def warn(message):
    """A diagnostic that always matters (bad input, lost connection), on stderr."""
    print(message, file=sys.stderr, flush=True)
