"""What the scripts of a task wrote to Redis, as Redis ran it (MONITOR): a processor's
progress is judged from what it wrote, not from what a creator happened to print.

A processor reports progress in its own way: RQ's job.meta (`job.meta["progress"] = 50;
job.save_meta()`, an HSET of the job's `meta`), or an event it publishes (PUBLISH) or
appends to a stream (XADD), as JSON or fields naming the job and its progress, or as a
line like `Notification job 3 50% complete`. The grader reads them all from MONITOR's
lines, the job's meta with the unpickler of evidence.py (nothing of it ever runs).
"""

import json
import re
import threading
import uuid

import redis

from .evidence import decode

PROGRESS_KEYS = ("progress", "percent", "percentage")
BEFORE_KEYS = ("before",)  # an event's progress reported before it, sent with it
JOB_KEYS = ("job", "job_id", "jobId", "id")
PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


WRITES = re.compile(rb'] "(?:HSET|HMSET|PUBLISH|XADD)" ', re.IGNORECASE)  # the commands that tell progress
CATCH_UP_WITHIN = 10.0  # seconds the watch may take to read what Redis ran before a look
ARGUMENT = re.compile(rb'"((?:[^"\\]|\\.)*)"')


def monitor_arguments(line):
    """The arguments of one MONITOR line (`1700000000.1 [0 127.0.0.1:5000] "HSET" "k" ...`),
    each unquoted as Redis quoted it (`\\"`, `\\\\`, `\\n`, `\\xHH`: Python's own escapes)."""
    start = line.find(b"] ")
    if start < 0:
        return []
    return [value.decode("unicode_escape").encode("latin-1") for value in ARGUMENT.findall(line, start)]


class CommandWatch:
    """Every command the task's Redis runs while the watch is on, in order."""

    def __init__(self, url):
        kwargs = redis.ConnectionPool.from_url(url).connection_kwargs
        self.url = url
        self.connection = redis.Connection(**{**kwargs, "socket_timeout": None})
        self.commands = []
        self.lock = threading.Lock()
        self.marker, self.caught_up = None, threading.Event()
        self.connection.send_command("MONITOR")
        self.connection.read_response()  # OK
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        while True:
            try:
                line = self.connection.read_response()
            except (redis.RedisError, OSError, ValueError, AttributeError):
                return
            if not isinstance(line, bytes):
                continue
            if WRITES.search(line):  # read as it comes; parsed when asked
                with self.lock:
                    self.commands.append(line)
            elif self.marker is not None and self.marker in line:
                self.caught_up.set()

    def catch_up(self, within=CATCH_UP_WITHIN):
        """Wait until the watch has read every command Redis ran before this call: a marker
        (an ECHO of a token of its own), sent now, comes back on MONITOR after them. A busy
        machine reads MONITOR's lines late: the last progress a processor wrote was missed."""
        self.caught_up.clear()
        self.marker = f"queuing-grader-caught-up-{uuid.uuid4().hex}".encode()
        try:
            with redis.Redis.from_url(self.url, socket_timeout=within) as client:
                client.echo(self.marker)
        except (redis.RedisError, OSError):
            return  # Redis gone: what was read is all there is
        self.caught_up.wait(within)

    def seen(self):
        """The arguments of every command that may tell progress, in order, up to now."""
        self.catch_up()
        with self.lock:
            lines = list(self.commands)
        return [arguments for arguments in map(monitor_arguments, lines) if arguments]

    def close(self):
        try:
            self.connection.disconnect()
        except (redis.RedisError, OSError):
            pass
        self.thread.join(2)


def as_number(value):
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number == int(number) else number


def event_progress(payload, ids):
    """(job id, [progress values]) told by one event (a dict, JSON text or a line), or None.
    An event of fields may carry, in BEFORE_KEYS, the progress its job reported before it
    (whole numbers, space-separated): a worker that sends a job's progress with its next
    write (its end, often) tells several in one entry."""
    if isinstance(payload, bytes):
        text = payload.decode(errors="replace")
        try:
            payload = json.loads(text)
        except ValueError:
            payload = text
    if isinstance(payload, dict):
        fields = {
            str(key): value.decode(errors="replace") if isinstance(value, bytes) else value
            for key, value in payload.items()
        }
        job = next((str(fields[key]) for key in JOB_KEYS if str(fields.get(key)) in ids), None)
        if job is None:
            job = next((str(value) for value in fields.values() if str(value) in ids), None)
        if job is None:
            return None
        told = [as_number(part) for key in BEFORE_KEYS for part in str(fields.get(key, "")).split()]
        progress = next((as_number(fields[key]) for key in PROGRESS_KEYS if key in fields), None)
        if fields.get("event", "progress") == "progress":
            told.append(progress)
        told = [value for value in told if value is not None]
        return (job, told) if told else None
    if isinstance(payload, str):
        found = PERCENT.search(payload)
        words = set(re.split(r"[\s:,;()\[\]{}\"']+", payload))
        job = next((job for job in ids if job in words), None)
        if found and job is not None:
            return job, [as_number(found.group(1))]
    return None


def stream_fields(arguments):
    """The field/value pairs of an XADD's arguments (after the key, its options and the id)."""
    index = 2
    while index < len(arguments):
        word = arguments[index].upper()
        if word == b"NOMKSTREAM":
            index += 1
        elif word in (b"MAXLEN", b"MINID"):
            index += 2 + (arguments[index + 1] in (b"~", b"="))
        elif word == b"LIMIT":
            index += 2
        else:
            break
    pairs = arguments[index + 1 :]
    return {pairs[n].decode(errors="replace"): pairs[n + 1] for n in range(0, len(pairs) - 1, 2)}


def progress_reports(commands, ids):
    """{job id: [progress values it reported, in order]}: by the job's meta or by its
    events, whichever told more (a worker may save the meta once, at the job's end, and
    tell each step as an event); each without consecutive repeats (RQ saves a job's meta
    again with its other fields)."""
    ids = {str(job) for job in ids}
    by_meta, by_event = {}, {}
    for arguments in commands:
        name = arguments[0].upper()
        if name in (b"HSET", b"HMSET") and len(arguments) > 3 and arguments[1].startswith(b"rq:job:"):
            job = arguments[1][len(b"rq:job:") :].decode(errors="replace")
            pairs = arguments[2:]
            for field, value in zip(pairs[::2], pairs[1::2], strict=False):
                if field == b"meta" and job in ids:
                    _kind, meta = decode(value)
                    progress = as_number(meta.get("progress")) if isinstance(meta, dict) else None
                    if progress is not None:
                        add(by_meta, job, progress)
        elif name == b"PUBLISH" and len(arguments) > 2:
            found = event_progress(arguments[2], ids)
            if found:
                add(by_event, *found)
        elif name == b"XADD" and len(arguments) > 4:
            found = event_progress(stream_fields(arguments), ids)
            if found:
                add(by_event, *found)
    return {job: max(by_meta.get(job, []), by_event.get(job, []), key=len) for job in ids}


def add(reports, job, told):
    """Add the progress values `told` (one, or several in order) to the job's reports."""
    values = reports.setdefault(job, [])
    for progress in told if isinstance(told, list) else [told]:
        if not values or values[-1] != progress:
            values.append(progress)
