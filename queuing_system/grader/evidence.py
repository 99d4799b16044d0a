"""What RQ keeps in Redis about a task's jobs and workers, read as plain data.

The grader needs it to put the blame where it belongs: a creator printed what its job
really did, or it did not; a processor failed a job with this message; the job was put
on that queue with that data. It reads RQ's own layout (`rq:job:ID` hashes, the
`rq:results:ID` streams, `rq:workers`): the job's data is JSON or pickle, and pickle is
read by an unpickler that refuses every class and function, so nothing of a port's data
ever runs in the grader. What cannot be read is left out, and the verdicts then rest on
the scripts' output alone.
"""

import base64
import io
import json
import pickle
import re
import zlib
from dataclasses import dataclass, field

import redis

JSON, PICKLE, UNKNOWN = "json", "pickle", "unknown"
FAILED_RESULT = b"2"  # rq.results.Result.Type.FAILED
LAST_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::\s?(.*))?$")


class PlainUnpickler(pickle.Unpickler):
    """Reads pickled lists, dicts, strings and numbers; refuses anything that names code."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refused: {module}.{name}")


def decode(raw):
    """(JSON | PICKLE | UNKNOWN, the value or None) of one serialized value."""
    try:
        return JSON, json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        pass
    if raw[:1] == b"\x80":
        try:
            return PICKLE, PlainUnpickler(io.BytesIO(raw)).load()
        except Exception:  # a hostile or foreign pickle: anything may go wrong, nothing may run
            return PICKLE, None
    return UNKNOWN, None


def unzipped(raw):
    try:
        return zlib.decompress(raw)
    except zlib.error:
        return raw


def error_message(traceback_text):
    """The message of the exception at the end of a traceback (`Phone number ... is blacklisted`)."""
    lines = [line for line in (traceback_text or "").strip().splitlines() if line.strip()]
    if not lines:
        return None
    match = LAST_LINE.match(lines[-1].strip())
    if match and match.group(2) is not None:
        return match.group(2)
    return lines[-1].strip()


def error_type(traceback_text):
    lines = [line for line in (traceback_text or "").strip().splitlines() if line.strip()]
    match = LAST_LINE.match(lines[-1].strip()) if lines else None
    return match.group(1).rsplit(".", 1)[-1] if match else None


@dataclass
class SeenJob:
    id: str
    queue: str = ""
    function: str = ""
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    serializer: str = UNKNOWN
    status: str = ""
    traceback: str = ""
    meta: dict = field(default_factory=dict)
    created_at: str = ""
    readable: bool = False  # its call (function, arguments) could be read

    @property
    def error(self):
        return error_message(self.traceback)

    @property
    def final(self):
        return self.status in ("finished", "failed")

    def notification(self):
        """(phoneNumber, message) of a notification job, whatever shape its call has:
        f({"phoneNumber": ..., "message": ...}), f(phone, message), f(phone_number=..., ...)."""
        args, kwargs = self.args, self.kwargs
        if len(args) == 1 and isinstance(args[0], dict) and not kwargs:
            data = args[0]
        elif not args and kwargs:
            data = kwargs
        elif len(args) == 2 and not kwargs:
            return tuple(args) if all(isinstance(arg, str) for arg in args) else None
        else:
            return None
        phone = data.get("phoneNumber", data.get("phone_number", data.get("phone")))
        message = data.get("message")
        return (phone, message) if isinstance(phone, str) and isinstance(message, str) else None

    def spec_shaped(self):
        """The spec's shape: one argument, the dict {"phoneNumber": ..., "message": ...}."""
        return (
            len(self.args) == 1
            and not self.kwargs
            and isinstance(self.args[0], dict)
            and list(self.args[0]) == ["phoneNumber", "message"]
        )


def read_job(client, key):
    fields = client.hgetall(key)
    job = SeenJob(id=key.decode(errors="replace").split(":", 2)[2])
    text = {name: value.decode(errors="replace") for name, value in fields.items() if name != b"data"}
    job.queue = text.get(b"origin", "")
    job.status = text.get(b"status", "")
    job.created_at = text.get(b"created_at", "")
    if b"data" in fields:
        job.serializer, call = decode(unzipped(fields[b"data"]))
        if isinstance(call, (list, tuple)) and len(call) == 4:
            function, _instance, args, kwargs = call
            job.function = function if isinstance(function, str) else ""
            job.args = list(args) if isinstance(args, (list, tuple)) else []
            job.kwargs = kwargs if isinstance(kwargs, dict) else {}
            job.readable = True
    if b"meta" in fields:
        _kind, meta = decode(fields[b"meta"])
        job.meta = meta if isinstance(meta, dict) else {}
    if b"exc_info" in fields:
        job.traceback = unzipped(fields[b"exc_info"]).decode(errors="replace")
    latest = client.xrevrange(f"rq:results:{job.id}", count=1)
    if latest:
        result = latest[0][1]
        if result.get(b"type") == FAILED_RESULT and result.get(b"exc_string"):
            try:
                job.traceback = zlib.decompress(base64.b64decode(result[b"exc_string"])).decode(
                    errors="replace"
                )
            except (ValueError, zlib.error):
                pass
    return job


def seen_jobs(client):
    """{job id: SeenJob} of every RQ job in this Redis database; {} if it cannot be read."""
    jobs = {}
    try:
        for key in client.scan_iter(match="rq:job:*", count=1000):
            if key.count(b":") != 2 or client.type(key) != b"hash":
                continue  # rq:job:ID:dependents and the like
            job = read_job(client, key)
            jobs[job.id] = job
    except (redis.RedisError, OSError):
        pass
    return jobs


def all_ended(client, ids):
    """Whether every one of these jobs has finished or failed, by their status (one round
    trip: the grader asks it again and again while a task runs)."""
    try:
        with client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hget(f"rq:job:{job_id}", "status")
            statuses = pipe.execute()
    except (redis.RedisError, OSError):
        return False
    return bool(ids) and all(status in (b"finished", b"failed") for status in statuses)


def on_queue(jobs, queue):
    """The jobs of one queue, oldest first."""
    return sorted((job for job in jobs.values() if job.queue == queue), key=lambda job: job.created_at)


def worker_queues(client):
    """{worker name: [queue names]} of the RQ workers registered now."""
    found = {}
    try:
        for name in client.smembers("rq:workers"):
            queues = client.hget(name, "queues")
            found[name.decode(errors="replace")] = (
                queues.decode(errors="replace").split(",") if queues else []
            )
    except (redis.RedisError, OSError):
        pass
    return found


class WorkerWatch:
    """The RQ workers seen serving each queue while a task ran (workers leave the
    registry when they stop: it is read again and again as the task goes)."""

    def __init__(self, client):
        self.client = client
        self.seen = {}  # worker name -> queues
        self.most = {}  # queue -> the most workers seen serving it at once

    def look(self):
        now = worker_queues(self.client)
        self.seen.update(now)
        serving = {}
        for queues in now.values():
            for queue in queues:
                serving[queue] = serving.get(queue, 0) + 1
        for queue, count in serving.items():
            self.most[queue] = max(self.most.get(queue, 0), count)

    def queues(self):
        return sorted({queue for queues in self.seen.values() for queue in queues})
