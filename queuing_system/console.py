"""What the scripts print: spec lines on stdout, diagnostics on stderr."""

import os
import sys


def say(line):
    """Print one spec line on stdout, at once.

    One write per line, flushed at once: several processes (the workers of one processor)
    share a terminal or pipe, and print() may write the text and its newline separately,
    letting another process's line land in between. A line still in a buffer would also be
    lost if the process were killed.
    """
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


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
