"""The package's lines on stderr, through the `logging` module's own handlers: stdout
carries the spec's lines only (console.say), everything else is a log record of the
"queuing_system" logger.

How a line looks (--log-format, else $QUEUING_LOG_FORMAT, else auto):

    plain   the words alone, as a person at a terminal reads them
    text    a timestamp (UTC, ISO 8601) and the level before the words
    json    one JSON object a line: time, level, logger, pid, message
    auto    plain on a terminal, text otherwise (a file, journald, a container's log)

The apps' access log (--access-log, off by default) is the "queuing_system.access"
logger, in the common log format, one line per request, on stderr as well.
"""

import argparse
import json
import logging
import os
import sys
from datetime import datetime, timezone

LOGGER_NAME = "queuing_system"
ACCESS_LOGGER_NAME = "queuing_system.access"
FORMAT_ENV = "QUEUING_LOG_FORMAT"
DEBUG_ENV = "QUEUING_DEBUG"
FORMATS = ("auto", "plain", "text", "json")
# What every script's --help says of the environment it reads.
# Prose, not a table: argparse's default formatter wraps it to the terminal as a paragraph
# (a parser with a raw formatter, the dashboard's, prints these lines as they are).
ENVIRONMENT_HELP = f"""environment: REDIS_URL says where Redis is (default redis://localhost:6379/0);
{DEBUG_ENV}=1 shows full tracebacks and chatty diagnostics on stderr;
{FORMAT_ENV} (plain, text or json) is --log-format's default."""


class StderrHandler(logging.StreamHandler):
    """A handler on sys.stderr as it is at each line (a redirect or a test's capture made
    after start-up). One write per line, flushed at once: workers share the stream."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass  # always sys.stderr, as it is then


class TextFormatter(logging.Formatter):
    """`2025-01-02T03:04:05.678Z WARNING words`."""

    def format(self, record):
        return f"{moment(record)} {record.levelname} {record.getMessage()}"


class JSONFormatter(logging.Formatter):
    """One JSON object a line, for log shippers."""

    def format(self, record):
        line = {
            "time": moment(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        return json.dumps(line, ensure_ascii=False)


def moment(record):
    when = datetime.fromtimestamp(record.created, timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def formatter_for(name):
    if name == "auto":
        name = "plain" if sys.stderr.isatty() else "text"
    if name == "json":
        return JSONFormatter()
    if name == "text":
        return TextFormatter()
    return logging.Formatter("%(message)s")


def chosen_format():
    name = os.environ.get(FORMAT_ENV, "auto").strip().lower()
    return name if name in FORMATS else "auto"


def use_format(name):
    """Lines from now on in format `name` (FORMATS)."""
    handler = StderrHandler()
    handler.setFormatter(formatter_for(name))
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers[:] = [handler]
    logger.propagate = False  # a runner's own root handlers (gunicorn's) would say it twice
    logger.setLevel(logging.DEBUG if os.environ.get(DEBUG_ENV) else logging.INFO)
    return logger


def logger():
    """The package's logger, set up on first use as $QUEUING_LOG_FORMAT says."""
    found = logging.getLogger(LOGGER_NAME)
    return found if found.handlers else use_format(chosen_format())


def access_logger():
    """The apps' access log: off until --access-log turns it on (not the package's lines:
    it does not pass its records up to them)."""
    found = logging.getLogger(ACCESS_LOGGER_NAME)
    if not found.handlers:
        found.propagate = False
        found.setLevel(logging.WARNING)
    return found


def log_access(remote, method, target, version, status, size):
    """One request in the common log format: `host - - [day/Mon/year:h:m:s +0000]
    "GET /path HTTP/1.1" 200 37`."""
    when = datetime.now(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    access_logger().info(f'{remote or "-"} - - [{when}] "{method} {target} HTTP/{version}" {status} {size}')


def turn_on_access_log():
    found = access_logger()
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))  # the common log format has its own date
    found.handlers[:] = [handler]
    found.setLevel(logging.INFO)
    found.propagate = False


class LogFormat(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        use_format(values)
        setattr(namespace, self.dest, values)


class AccessLog(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        turn_on_access_log()
        setattr(namespace, self.dest, True)


def add_log_arguments(parser):
    """`--log-format` (how stderr's lines look), and the environment the script reads
    (QUEUING_DEBUG included) at the end of its --help. Returns `parser`."""
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        action=LogFormat,
        default=chosen_format(),
        help=f"how diagnostic lines on stderr look: plain words, text (timestamp and level), json, "
        f"or auto (plain on a terminal, else text) (default: ${FORMAT_ENV}, else auto)",
    )
    add_environment_help(parser)
    return parser


def add_access_log_argument(parser):
    parser.add_argument(
        "--access-log",
        nargs=0,
        action=AccessLog,
        default=False,
        help="log every request on stderr, in the common log format (default: off)",
    )
    return parser


def add_environment_help(parser):
    if ENVIRONMENT_HELP not in (parser.epilog or ""):
        parser.epilog = f"{parser.epilog}\n\n{ENVIRONMENT_HELP}" if parser.epilog else ENVIRONMENT_HELP
    return parser
