"""What the scripts print: spec lines on stdout, diagnostics on stderr (as log records:
logs.py says how they look).

Every line is one write, flushed at once: several processes (the workers of one processor)
share a terminal or pipe, and print() may write the text and its newline separately,
letting another process's line land in between. A line still in a buffer would also be
lost if the process were killed.
"""

import os
import sys

from .logs import logger

# Characters that would let untrusted text (a job's message, an error, a published
# message) forge or hide lines on a terminal: control characters, line separators and
# bidirectional overrides. Each is written as its escape instead (a newline as \n).
UNPRINTABLE = [
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    0x200E,
    0x200F,
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
ESCAPES = {code: repr(chr(code))[1:-1] if code < 0x100 else f"\\u{code:04x}" for code in UNPRINTABLE}


def printable(text):
    """`text` with every character that could forge or hide a line escaped. Each of them
    is one Python calls not printable (a control, format or separator character), so text
    it calls printable, nearly every line, is as it is."""
    text = str(text)
    return text if text.isprintable() else text.translate(ESCAPES)


def write_line(stream, line):
    stream.write(f"{printable(line)}\n")
    stream.flush()


def say(line):
    """Print one spec line on stdout."""
    write_line(sys.stdout, line)


def print_reply(reply):
    """The Python counterpart of node_redis's `redis.print`.

    redis-py turns the `OK` status reply into True; the original printed the raw reply.
    """
    say(f"Reply: {'OK' if reply is True else reply}")


# Read once, here only: asked for every failed job, reading the environment cost a
# failure a percent of a worker's CPU.
DEBUGGING = bool(os.environ.get("QUEUING_DEBUG"))


def debugging():
    """QUEUING_DEBUG=1 (set when the script starts) shows full tracebacks and chatty logs."""
    return DEBUGGING


def integer_at_least(minimum, name):
    """An argparse type: a whole number no less than `minimum`, called `name` in its error
    (a script's `--workers`, `--attempts`...)."""

    def parse(text):
        value = int(text)
        if value < minimum:
            raise ValueError(text)
        return value

    parse.__name__ = name  # argparse names the type in its error
    return parse


def raised_at(traceback):
    """`FILE:LINE` of the frame that raised, the innermost of `traceback` (FILE relative
    to the working directory when within it), for a failure said in one line."""
    if traceback is None:
        return "?"
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    path = traceback.tb_frame.f_code.co_filename
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        relative = path
    return f"{path if relative.startswith('..') else relative}:{traceback.tb_lineno}"


def debug(message):
    """A diagnostic on stderr, shown only when debugging."""
    if debugging():
        logger().debug(printable(message))


def inform(message):
    """A line for the person running the script (where an app listens), on stderr: stdout
    carries the spec's lines only."""
    logger().info(printable(message))


def warn(message):
    """A diagnostic that always matters (bad input, lost connection), on stderr."""
    logger().warning(printable(message))
