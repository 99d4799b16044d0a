"""RQ's Redis data layout, as our worker writes and reads it: stated once, here.

RQ's own tools read it (`rq info`, `rq requeue`, rq-dashboard, RQ's registries, `Job.fetch`,
`job.latest_result()`), RQ's own worker writes it, and so does ours: its transitions are Lua
scripts (scripts/*.lua) given the keys and values made here. Each key's name comes from RQ's
public names (RQ_KEY_PREFIX moves them all). tests/test_layout.py runs every path (success,
failure, retry with back-off, delayed, abandoned, dependents, refused, set aside) through
RQ's own SimpleWorker and through ours, and names the key or field that moved.

Keys, for a queue Q, a job J, an execution E of it (J:E, its composite key), a worker W:

| key                          | type   | what it holds (written by)                                |
|------------------------------|--------|-----------------------------------------------------------|
| rq:queue:Q                   | list   | ids of the jobs waiting (creators; retries; requeues)     |
| rq:queue:Q:intermediate      | list   | ids a blocking take moved off the queue, not yet started |
| rq:job:J                     | hash   | the job (JOB_FIELDS below)                                |
| rq:execution:J:E             | hash   | a run of the job: id, job_id, created_at, last_heartbeat, |
|                              |        | worker_name (epoch seconds); lives its timeout + grace    |
| rq:executions:J              | zset   | E, scored by when it expires + 60                         |
| rq:wip:Q                     | zset   | J:E while it runs, scored by when it counts as abandoned  |
| rq:finished:Q, rq:failed:Q   | zset   | J, scored by when its retention ends                      |
| rq:scheduled:Q               | zset   | J, scored by when it is due (whole seconds)               |
| rq:results:J                 | stream | one entry per outcome (RESULT fields below), MAXLEN ~ 10  |
| rq:job:J:dependents          | set    | ids of jobs waiting for J                                 |
| rq:worker:W                  | hash   | the worker (WORKER_FIELDS), expiring without heartbeats   |
| rq:worker:W:executions       | set    | J:E of the runs the worker holds                          |
| rq:workers, rq:workers:Q     | set    | rq:worker:W of the live workers (of Q)                    |
| rq:queues                    | set    | rq:queue:Q of every queue that was used                   |
| rq:suspended                 | string | set by `rq suspend`: workers take no job while it exists  |

Our own keys beside RQ's, which RQ's tools ignore: the worker's step marker
(`queuing:step:W`, see steps.py), the set-aside lists (`queuing:set_aside:Q`) and the event
stream (`queuing:events:Q`, events.py).

Values: the job hash's moments are text, RQ_TIMESTAMP (`2026-01-31T09:15:02.123456Z`, UTC);
executions and results keep epoch seconds as a float's repr; registries score whole seconds.
"""

import binascii
import datetime
import re
import zlib

from rq.defaults import RQ_KEY_PREFIX
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE, ExecutionRegistry
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.results import Result
from rq.suspension import WORKERS_SUSPENDED
from rq.utils import utcparse
from rq.worker import Worker as RQWorker
from rq.worker_registration import REDIS_WORKER_KEYS, WORKERS_BY_QUEUE_KEY

JOB_PREFIX = Job.redis_job_namespace_prefix  # rq:job:
EXECUTION_PREFIX = f"{RQ_KEY_PREFIX}:execution:"  # rq:execution:J:E (Execution.key)
EXECUTIONS_PREFIX = ExecutionRegistry.key_template.format("")  # rq:executions:J
RESULTS_PREFIX = Result.get_key("")  # rq:results:J
DEPENDENTS_SUFFIX = Job.dependents_key_for("")[len(JOB_PREFIX) :]  # rq:job:J:dependents
# rq:job::J:dependencies, two colons, as RQ's Job.dependencies_key names it
DEPENDENCIES_PREFIX, DEPENDENCIES_SUFFIX = f"{JOB_PREFIX}:", ":dependencies"
WORKER_PREFIX = RQWorker.redis_worker_namespace_prefix  # rq:worker:W
QUEUES_KEY = Queue.redis_queues_keys  # rq:queues
SUSPENDED_KEY = WORKERS_SUSPENDED  # rq:suspended
WORKERS_KEY = REDIS_WORKER_KEYS  # rq:workers

# The fields of a job's hash that RQ's Job.restore reads (RQ 3.0; tests/test_rq_fence.py
# holds the list to RQ's own), in the order a step gives their values (include/take.lua):
# what our worker reads of a job it takes. First those that are a job's own in a batch
# of jobs (its id aside): its data, description and meta, its moments (text: read by
# read_timestamp, not RQ's strptime), and what its start writes; then those a batch's jobs
# share (function, callbacks, timeout, retention...).
OWN_FIELDS = (
    b"data",
    b"description",
    b"meta",
    b"created_at",
    b"enqueued_at",
    b"ended_at",
    b"started_at",
    b"last_heartbeat",
    b"status",
    b"worker_name",
)
SHARED_FIELDS = (
    b"origin",
    b"timeout",
    b"result_ttl",
    b"failure_ttl",
    b"success_callback_name",
    b"success_callback_timeout",
    b"failure_callback_name",
    b"failure_callback_timeout",
    b"stopped_callback_name",
    b"stopped_callback_timeout",
    b"group_id",
    b"result",
    b"exc_info",
    b"webhooks",
    b"dependency_ids",
    b"dependency_id",
    b"allow_dependency_failures",
    b"enqueue_at_front",
    b"ttl",
    b"number_of_retries",
    b"retries_left",
    b"retry_intervals",
    b"enqueue_at_front_on_retry",
    b"repeats_left",
    b"repeat_intervals",
    b"rate_limit_key",
    b"rate_limit_concurrency",
)
JOB_FIELDS = OWN_FIELDS + SHARED_FIELDS
# Those a step's start writes (include/take.lua): RQ's restore is given them as written, so
# a step does not read them (four fields fewer to look up and to reply, a job).
STARTED_FIELDS = (b"started_at", b"last_heartbeat", b"status", b"worker_name")
TAKEN_FIELDS = tuple(field for field in JOB_FIELDS if field not in STARTED_FIELDS)  # what a step reads

STARTED = JobStatus.STARTED.value
FINISHED = JobStatus.FINISHED.value
FAILED = JobStatus.FAILED.value
QUEUED = JobStatus.QUEUED.value
SCHEDULED = JobStatus.SCHEDULED.value

# A result stream entry's `type` (Result.Type)
SUCCESSFUL_RESULT = Result.Type.SUCCESSFUL.value
FAILED_RESULT = Result.Type.FAILED.value
RESULTS_KEPT = 10  # entries of a job's result stream (Result.save: XADD MAXLEN ~ 10)
# RQ's words in an abandoned job's failure, with the moment it was found (record_job_failure)
ABANDONED_FAILURE = "Moved to FailedJobRegistry, due to AbandonedJobError, at {moment}"
UNSERIALIZABLE = "Unserializable return value"  # what RQ stores for a result it cannot dump

EXECUTION_GRACE = 60  # seconds an execution's registry entry outlives it (ExecutionRegistry.add)
FIRST_SEEN_TTL = 86_400  # seconds: an intermediate entry's first-seen mark (IntermediateQueue)


class QueueKeys:
    """The keys of queue `name` (see the table above)."""

    def __init__(self, name):
        self.name = name
        self.queue = Queue.redis_queue_namespace_prefix + name
        self.intermediate = IntermediateQueue.get_intermediate_queue_key(self.queue)
        self.started = StartedJobRegistry.key_template.format(name)
        self.finished = FinishedJobRegistry.key_template.format(name)
        self.failed = FailedJobRegistry.key_template.format(name)
        self.scheduled = ScheduledJobRegistry.key_template.format(name)
        self.deferred = DeferredJobRegistry.key_template.format(name)
        self.workers = WORKERS_BY_QUEUE_KEY % name

    def first_seen(self, job_id):
        """The mark of an intermediate entry seen by a maintenance pass (RQ's own key)."""
        return f"{self.intermediate}:first_seen:{job_id}"


class WorkerKeys:
    """The keys of worker `name`."""

    def __init__(self, name):
        self.name = name
        self.worker = WORKER_PREFIX + name
        self.executions = WORKER_EXECUTIONS_KEY_TEMPLATE.format(name)
        self.step = f"queuing:step:{name}"  # ours: the last step done (steps.py)


def job_key(job_id):
    return JOB_PREFIX + job_id


def dependents_key(job_id):
    return Job.dependents_key_for(job_id)


def dependencies_key(job):
    return job.dependencies_key  # rq:job::J:dependencies, two colons, as RQ names it


def results_key(job_id):
    return Result.get_key(job_id)


def execution_key(composite):
    return EXECUTION_PREFIX + composite


def executions_key(job_id):
    return EXECUTIONS_PREFIX + job_id


# Moments


RQ_TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII)
UTC = datetime.timezone.utc
from_iso = datetime.datetime.fromisoformat


def timestamp_text(moment):
    """A moment as a job's hash keeps it: RQ's `%Y-%m-%dT%H:%M:%S.%fZ`, in UTC. Formatted
    once: a moment read_timestamp read lately is given its text as read, and the moment
    formatted last its text again (on Python 3.11 isoformat is 16,000 instructions, and
    each of a job's events says its created_at)."""
    global last_text
    last_moment, text = last_text  # one read: another thread may replace it meanwhile
    if moment is last_moment:
        return text
    text = TEXTS_READ.get(moment)
    if text is None:
        utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
        text = f"{utc.isoformat(timespec='microseconds')[:26]}Z"
    last_text = moment, text
    return text


last_text = (None, "")  # the moment timestamp_text gave last (immutable), and its text


def now_text():
    return timestamp_text(datetime.datetime.now(UTC))


def read_timestamp(raw):
    """A job hash's moment (bytes), as RQ reads it, without strptime (16 us each, two per
    job taken): the shape RQ writes goes through fromisoformat, any other through RQ's own
    utcparse, which raises ValueError for what it cannot read."""
    moment = MOMENTS_READ.get(raw)  # a job's enqueued_at is often its created_at
    if moment is not None:
        return moment
    if RQ_TIMESTAMP.fullmatch(raw):
        text = raw.decode()
        moment = from_iso(f"{text[:-1]}+00:00")
        if len(MOMENTS_READ) >= MOMENTS_KEPT:
            MOMENTS_READ.clear()
            TEXTS_READ.clear()
        MOMENTS_READ[raw] = moment  # a datetime is immutable: jobs may share it
        TEXTS_READ[moment] = text  # exactly what timestamp_text would make of it
        return moment
    return utcparse(raw.decode())


MOMENTS_READ = {}  # {a moment's text, as read: the moment}
TEXTS_READ = {}  # {a moment read_timestamp read: its text}
MOMENTS_KEPT = 256


def epoch_text(microseconds):
    """Epoch seconds as executions and results keep them (RQ: a float's repr), to the
    microsecond, from whole microseconds (integers: no float formatting, no rounding)."""
    whole, micro = divmod(microseconds, 1_000_000)
    return f"{whole}.{micro:06d}"


def moment_text(microseconds):
    """Epoch microseconds as a job's hash keeps a moment (timestamp_text), the date and
    time formatted once per second: a worker's steps are a fraction of a millisecond apart."""
    global last_second
    whole, micro = divmod(microseconds, 1_000_000)
    second, text = last_second  # one read: another thread may replace it meanwhile
    if whole != second:
        text = timestamp_text(datetime.datetime.fromtimestamp(whole, UTC))[:19]
        last_second = whole, text
    return f"{text}.{micro:06d}Z"


last_second = (None, "")  # the second moment_text formatted last, and its text


def moment_of(microseconds):
    """The moment of epoch microseconds, to the microsecond (as moment_text writes it)."""
    whole, micro = divmod(microseconds, 1_000_000)
    return datetime.datetime.fromtimestamp(whole, UTC).replace(microsecond=micro)


# Results


STORED_UP_TO = 256  # bytes: data up to this size is stored in zlib's format, not deflated


def compressed(data):
    """Bytes as RQ keeps a job's data and a failure's traceback: in zlib's format, which RQ
    reads back with zlib.decompress. Up to STORED_UP_TO bytes (a notification job's data
    is 130, a failure's one line a hundred) they are stored, not deflated: zlib.compress
    allocates and clears 256 KB of state (60,000 instructions) to save a few bytes."""
    size = len(data)
    if size > STORED_UP_TO:
        return zlib.compress(data)
    # zlib's header (RFC 1950: deflate, level 0), one final stored block (RFC 1951 3.2.4:
    # its length, and the length's complement), the data, its Adler-32.
    length = size.to_bytes(2, "little") + (size ^ 0xFFFF).to_bytes(2, "little")
    return b"\x78\x01\x01" + length + data + zlib.adler32(data).to_bytes(4, "big")


def compressed_text(text):
    """A failure's traceback as a result stream entry keeps it: compressed, then base64.
    Failures often say the same (one cause, many jobs): the last texts' are kept."""
    found = COMPRESSED.get(text)
    if found is None:
        if len(COMPRESSED) >= COMPRESSED_KEPT:
            COMPRESSED.clear()
        found = COMPRESSED[text] = binascii.b2a_base64(compressed(text.encode()), newline=False).decode()
    return found


COMPRESSED = {}  # {a failure's text: its compressed_text}
COMPRESSED_KEPT = 256


def return_value_text(serializer, value):
    """A result's return value as its stream entry keeps it: serialized, base64; None is
    not kept (the field is absent)."""
    if value is None:
        return None
    try:
        dumped = serializer.dumps(value)
    except Exception:  # noqa: BLE001 - as RQ: anything it cannot dump is said so
        dumped = serializer.dumps(UNSERIALIZABLE)
    return binascii.b2a_base64(dumped, newline=False).decode()
