"""Kue's job semantics on RQ: sequential ids, JSON payloads, lifecycle events.

`queue.create(type, data).save()` becomes RQ's `enqueue_many` in `save_jobs`: one
MULTI/EXEC under WATCH that saves every job of the batch or none, and once, with ids from one counter
shared by all queues (the first job ever created on an empty Redis is 1, as in Kue), and
the job's success and failure reported to the event stream by RQ's own callbacks, so any RQ
worker emits them. `create_jobs` saves a batch of one function's jobs the same way, faster.
"""

import gc
import itertools
import math
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import redis
from rq import Callback, Queue, Retry
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.utils import get_call_string

from . import layout
from .connection import ANSWER_ATTEMPTS, RETRYABLE, until_answered
from .console import integer_at_least
from .events import CALLBACKS
from .replication import acknowledged_command, answer, on_one_connection, sent
from .rq_job import JobFailed, copy_of

# One counter for every queue, as Kue had (ids 39–49 on one queue, then 51 on another).
JOB_ID_KEY = "queuing:job_ids"

# A notification or a seat takes milliseconds; past this RQ stops the job. It also bounds
# how soon a job whose worker died is noticed (see workers.Worker.get_heartbeat_ttl).
JOB_TIMEOUT = 20  # seconds

# How long a job stays in Redis once it ended, with its result: a finished one as long as
# RQ's default; a failed one a day, to inspect and `rq requeue` (RQ's default is a year,
# and its result stream would never expire). Every job key then expires: memory is bounded
# by the job rate times these.
RESULT_TTL = 500  # seconds
FAILURE_TTL = 86_400  # seconds

# Named, not imported: a job names its callbacks, which a worker imports (callbacks.py).
ON_SUCCESS = Callback(CALLBACKS["success"])
ON_FAILURE = Callback(CALLBACKS["failure"])


class MaybeSaved(redis.ConnectionError):
    """A batch of jobs sent to Redis whose answer never came, and which Redis could not be
    asked about in time (an app's request past its deadline, a failover under way): it
    may have been saved, and then runs. Its jobs' ends are worth listening for."""


@dataclass(frozen=True)
class Timing:
    """When a job runs, as Kue's `.delay(ms)`, `.attempts(n)` and `.backoff({type:
    'exponential'})` said it (BullMQ's `delay`, `attempts` and `backoff` alike), in RQ's
    whole seconds. The default, NOW, is the spec's: at once, and once."""

    delay: int = 0  # seconds before the first attempt
    attempts: int = 1  # tries in all, the first included
    backoff: int = 0  # seconds before the first retry, doubled before each next one

    @staticmethod
    def add_arguments(parser):
        """Kue's `.delay()`, `.attempts()` and `.backoff()` as a creator's options (`delay`,
        `attempts` and `backoff`); none given: NOW, as the spec runs it. Returns `parser`."""
        whole_seconds = integer_at_least(0, "whole number of seconds")
        positive = integer_at_least(1, "positive integer")
        parser.add_argument(
            "--delay", type=whole_seconds, default=0, help="seconds before the jobs run (default: 0)"
        )
        parser.add_argument("--attempts", type=positive, default=1, help="tries per job in all (default: 1)")
        parser.add_argument(
            "--backoff",
            type=whole_seconds,
            default=0,
            help="seconds before the first retry, doubled each time (default: 0)",
        )
        return parser

    def due(self):
        """When a job created now with this timing runs (see due_time)."""
        return due_time(self.delay)

    def retry(self):
        """RQ's Retry for the attempts after the first, or None."""
        retries = self.attempts - 1
        if retries < 1:
            return None
        return Retry(max=retries, interval=[self.backoff * 2**n for n in range(retries)])

    def schedule_many(self, queue, job_datas, pipeline):
        """RQ's enqueue_at for a batch (RQ's own takes one job): the jobs of `job_datas`
        (Queue.prepare_data's) scheduled on `pipeline` for when this timing says they run;
        returns them."""
        when, jobs = self.due(), []
        for data in job_datas:
            fields = data._asdict()
            del fields["at_front"]  # a scheduled job goes to the back when due
            jobs.append(queue.schedule_job(queue.create_job(**fields), when, pipeline=pipeline))
        return jobs


NOW = Timing()


NOTIFICATION_FIELDS = ("phoneNumber", "message")


def notification(data):
    """The (phoneNumber, message) of a notification job's data, both text, or JobFailed.

    Anyone can write a job: checked where it runs, not only where our creators make it
    (a phone number sent as a JSON number would slip past a blacklist of strings).
    """
    if not isinstance(data, dict):
        raise JobFailed("Job data is not an object")
    for field in NOTIFICATION_FIELDS:
        if not isinstance(data.get(field), str):
            raise JobFailed(f"Job data has no {field} string")
    return data["phoneNumber"], data["message"]


def job_queue(name, connection):
    """An RQ queue whose jobs are JSON: nobody who can write to Redis can run code in a worker."""
    return Queue(name, connection=connection, serializer=JSONSerializer)


def next_job_ids(connection, count):
    """Reserve `count` consecutive ids in one round trip, once the replicas have them (an id
    a failover lost would be handed out again)."""
    last = int(acknowledged_command(connection, "INCRBY", JOB_ID_KEY, count))
    return [str(job_id) for job_id in range(last - count + 1, last + 1)]


def reserve_job_ids(connection, count=1):
    """Kue's ids for `count` new jobs, as text: consecutive, from one counter shared by every
    queue (the first job ever created on an empty Redis is "1"). Pass each as RQ's job_id.
    Redis away, or failing over, is waited for (in an app's request, until its deadline)."""
    return until_answered(lambda: next_job_ids(connection, count), within=None)


class Recorder(redis.Redis):
    """A redis-py client that sends nothing: RQ's methods, given it as their pipeline, queue
    their commands on it (execute_command, redis-py's one door for commands), for
    watched_transaction to send as one transaction. Not for jobs with dependencies: RQ WATCHes those."""

    explicit_transaction = True  # RQ puts a pipeline it is given in MULTI mode, unless it is

    def __init__(self, connection):
        super().__init__(connection_pool=connection.connection_pool)
        self.commands = []  # (arguments, options) of each command

    def execute_command(self, *args, **options):
        self.commands.append((args, options))

    def multi(self):
        pass  # watched_transaction sends them in one MULTI/EXEC

    def watch(self, *names):
        raise NotImplementedError("watched_transaction saves no job with dependencies: RQ WATCHes them")


@contextmanager
def save_jobs(queue, count, unsure_is_saved=False):
    """Kue's `job.save()` for `count` new jobs on `queue`, around RQ's own calls: yields
    `(ids, pipeline)`, Kue's ids for them (reserve_job_ids) and a pipeline for RQ's writes
    of them (enqueue, enqueue_many, enqueue_at... given `pipeline=`), sent as the block
    ends (watched_transaction): every job is saved, or none, and once, with our timeout and
    retention where a job names none (see with_our_defaults).

    `unsure_is_saved`: a batch sent whose answer was lost, and that Redis could not be
    asked about in time (an app's request at its deadline, a failover under way:
    MaybeSaved), ends the block as if saved, as it may have been (then it runs): for a
    caller that listens for its jobs' ends rather than tell a client they failed."""
    ids = reserve_job_ids(queue.connection, count)
    # RQ's enqueue asks Redis's version (INFO) once per Queue, straight, outside any retry:
    # asked here first, a Redis away or failing over is waited for as it was for the ids.
    until_answered(queue.get_redis_server_version, within=None)
    try:
        with watched_transaction(queue, ids) as pipeline:
            yield ids, pipeline
    except MaybeSaved:
        if not unsure_is_saved:
            raise


@contextmanager
def watched_transaction(queue, job_ids):
    """A pipeline for RQ's writes of the jobs `job_ids` (enqueue, enqueue_many, enqueue_at
    with `pipeline=`), sent when the block ends as one MULTI/EXEC: every job is saved, or
    none, and once. A dropped connection is retried: the batch is sent under WATCH of its
    first job, so redis-py never sends it twice (a batch Redis had saved would be queued
    twice), and a lost reply is settled by looking for that job."""
    with collector_paused():
        batch = Recorder(queue.connection)
        yield batch
        commands = merged(with_our_defaults(batch.commands))
        send_once(queue.connection, commands, Job.key_for(job_ids[0]))


def with_our_defaults(commands):
    """RQ's writes of new jobs, each job saved with our timeout and retention where it
    names none, as RQ's own worker then honours them: stopped after JOB_TIMEOUT (RQ writes
    Queue.DEFAULT_TIMEOUT, 180 s, for a job and a queue that name none: a job naming just
    that is taken for one that names none), and, failed, kept FAILURE_TTL (RQ writes no
    failure_ttl, and keeps a failed job a year). (The Job objects RQ returned keep RQ's.)"""
    ours = []
    for args, options in commands:
        if args[0] == "HSET" and "timeout" in args[2::2]:  # a job's whole hash, as RQ's save writes it
            fields = dict(zip(args[2::2], args[3::2], strict=True))
            if fields["timeout"] == Queue.DEFAULT_TIMEOUT:
                fields["timeout"] = JOB_TIMEOUT
            fields.setdefault("failure_ttl", FAILURE_TTL)
            args = (*args[:2], *(part for pair in fields.items() for part in pair))
        ours.append((args, options))
    return ours


# Writes to one key that Redis applies argument by argument, so that two in a row are one
# with both's arguments: `HSET k a 1` then `HSET k b 2 a 3` is `HSET k a 1 b 2 a 3`.
APPENDABLE = {"HSET": 2, "RPUSH": 1, "LPUSH": 1, "SADD": 1, "ZADD": 2}  # arguments per item
MOST_ARGUMENTS = 4096  # in one merged command


def merged(commands):
    """`commands` made one per key and kind, where that leaves Redis as they would: when
    every command is one of APPENDABLE, on a key given as str or bytes, with no options
    (a ZADD's first argument, its score, a number: no NX, GT, CH...), and no key gets two
    kinds. Commands on different keys are then independent, so each key's are sent
    together, in order. RQ writes a job as HSET of its status, HSET of the job, RPUSH of
    its id: three commands to pack, parse, queue and answer QUEUED, where one does. Their
    replies are those of the merged commands (watched_transaction reads none)."""
    merged = {}  # key: its commands, each a list of arguments
    for args, options in commands:
        name = args[0]
        per_item = APPENDABLE.get(name)
        if options or per_item is None or not appendable(name, args, per_item):
            return commands
        key = args[1].encode() if type(args[1]) is str else args[1]
        if type(key) is not bytes:
            return commands
        same_key = merged.get(key)
        if same_key is None:
            merged[key] = [list(args)]
        elif same_key[-1][0] != name:
            return commands
        elif len(same_key[-1]) + len(args) - 2 > MOST_ARGUMENTS:
            same_key.append(list(args))
        else:
            same_key[-1] += args[2:]
    return [(tuple(command), {}) for same_key in merged.values() for command in same_key]


def appendable(name, args, per_item):
    items = len(args) - 2
    if items < per_item or items % per_item:
        return False
    return name != "ZADD" or all(type(score) in (int, float) for score in args[2::2])


def send_once(connection, commands, first_key, send=None):
    """The (arguments, options) `commands` in one MULTI/EXEC, under WATCH of `first_key`, in
    one round trip with the WAIT for the replicas (replication.py): done once the replicas
    have it (`send(connection, first_key)`, if given, sends the transaction instead, and
    its WAIT). Tried again while Redis is away or failing over; a try whose answer was lost
    (or which the replicas did not all get) is settled by looking for that key first."""

    def found():  # a look, not a write: `again`, so that its WAIT covers the batch
        return answer(on_one_connection(connection, [("EXISTS", first_key)], again=True)[0])

    for attempt in range(1, ANSWER_ATTEMPTS + 1):
        try:
            if send is not None:
                send(connection, first_key)
                return
            transaction = [("WATCH", first_key), ("MULTI",), *(args for args, _ in commands), ("EXEC",)]
            saved(on_one_connection(connection, transaction))
            return
        except (redis.WatchError, *RETRYABLE) as error:
            # The batch was saved whole or not at all: its first job tells which (and the
            # look waits for the replicas to have what it found).
            try:
                if until_answered(found, within=None):
                    return
            except RETRYABLE as unsettled:  # in a request, past its deadline
                raise MaybeSaved(f"the jobs may have been saved: {unsettled}") from None
            if attempt == ANSWER_ATTEMPTS:
                raise redis.ConnectionError(f"the jobs could not be saved: {error}") from None


def saved(replies):
    """Raise what a transaction's replies (WATCH, MULTI, each command, EXEC) say went wrong:
    the first refused command (OOM, say: Redis then aborts it all), WatchError if the
    watched key changed (EXEC's None)."""
    for reply in replies:
        if isinstance(reply, Exception) and not isinstance(reply, redis.exceptions.ExecAbortError):
            raise reply
    if isinstance(replies[-1], Exception):
        raise replies[-1]
    if replies[-1] is None:
        raise redis.WatchError("the batch's first job was written meanwhile")


STREAMED = 1000  # commands packed and sent at a time in a streamed transaction


def streamed(commands):
    """What sends the commands `commands()` makes (each a tuple of arguments, no options)
    as one MULTI/EXEC under WATCH (send_once's `send`), STREAMED at a time on one
    connection, each part's QUEUED replies read before the next is sent: a transaction
    packed whole (a pipeline's) held 700 bytes a job in the creator, 70 MB for 100,000."""

    def send(client, first_key):
        pool = client.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_command("WATCH", first_key)
            connection.read_response()
            connection.send_command("MULTI")
            connection.read_response()
            refused = None
            part = []
            for command in itertools.chain(commands(), [None]):
                if command is not None:
                    part.append(command)
                if part and (command is None or len(part) == STREAMED):
                    connection.send_packed_command(connection.pack_commands(part))
                    for _command in part:
                        try:
                            connection.read_response()  # QUEUED
                        except redis.ResponseError as error:  # EXEC aborts the transaction
                            refused = refused or error
                    part = []
            replies = sent(connection, [("EXEC",)])[0]  # and the WAIT for the replicas, in one write
            if isinstance(replies, redis.ResponseError):
                raise refused or redis.ResponseError("EXECABORT")
            if replies is None:
                raise redis.WatchError("the batch's first job was written meanwhile")
            for reply in replies:  # as redis-py's pipeline raises a command's error
                if isinstance(reply, redis.ResponseError):
                    raise reply
        except BaseException:
            connection.disconnect()  # a transaction left open must not be taken up by another
            raise
        finally:
            pool.release(connection)

    return send


def job_options(timing=NOW, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL):
    """What RQ is told of each of our jobs besides its function, data and id."""
    return dict(
        timeout=JOB_TIMEOUT,
        result_ttl=result_ttl,
        failure_ttl=failure_ttl,
        retry=timing.retry(),
        on_success=ON_SUCCESS,
        on_failure=ON_FAILURE,
    )


def job_calls(function, datas, ids, timing=NOW, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL):
    """Queue.prepare_data of each data dict, with its id and our jobs' options."""
    options = job_options(timing, result_ttl, failure_ttl)
    return [
        Queue.prepare_data(function, (data,), job_id=job_id, **options)
        for job_id, data in zip(ids, datas, strict=True)
    ]


def create_jobs(queue, function, datas, timing=NOW, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL):
    """Save one job per data dict on `queue`, atomically and once; return the RQ jobs in order.
    Kue's `queue.create(...).save()` for a batch, as BullMQ's addBulk: the numbered scripts
    show the same steps in RQ's calls (save_jobs, enqueue_many); this writes what those write
    (tests/test_creation.py), for a fraction of their CPU.

    `function` is the import path of the job function ("7_job_processor.process"), which
    receives the data dict, as Kue's process callback received `job.data`. The jobs run
    as `timing` says (a delayed one waits in RQ's scheduled registry, which our workers
    move on time: see worker/due_jobs.py). A finished job is kept `result_ttl` seconds, a
    failed one `failure_ttl`. `datas` (any iterable) is read once: what a batch holds is
    what it saves of each job (see Batch).
    """
    if timing.delay:
        datas = list(datas)
        if not datas:
            return []
        ids = reserve_job_ids(queue.connection, len(datas))
        calls = job_calls(function, datas, ids, timing, result_ttl, failure_ttl)
        with watched_transaction(queue, ids) as pipeline:
            return timing.schedule_many(queue, calls, pipeline)
    options = job_options(timing, result_ttl, failure_ttl)
    with collector_paused():
        return saved_batch(queue, function, datas, options)


def saved_batch(queue, function, datas, options):
    """RQ's enqueue_many of jobs of one function with the same options: what RQ saves of
    each (its to_dict), made once, by RQ (Queue.create_job), and for each job the fields
    that differ (its id, data, description and moments), in one transaction (send_once),
    one HSET per job and one RPUSH, streamed. RQ makes and checks a Job per job
    (Job.__init__ checks its serializer against a Protocol, 8 us on Python 3.11), serializes
    its moments with strftime and its data with zlib's 256 KB of state: three quarters of
    creating a job, which tests/test_layout.py holds to leave Redis as RQ's enqueue_many
    leaves it. Returns the jobs, a Batch."""
    dumps, payloads, descriptions, first_data = queue.serializer.dumps, [], [], None
    for data in datas:
        if not payloads:
            first_data = data
        payloads.append(dumps([function, None, [data], {}]))
        descriptions.append(get_call_string(function, (data,), {}, max_length=75))
    if not payloads:
        return []
    ids = reserve_job_ids(queue.connection, len(payloads))
    moment = datetime.now(timezone.utc)
    first = queue.create_job(function, args=(first_data,), job_id=ids[0], status=JobStatus.QUEUED, **options)
    first.created_at = first.enqueued_at = moment
    fields = first.to_dict()
    names = list(fields)
    template = [part for pair in fields.items() for part in pair]
    data_at, description_at = 2 * names.index("data") + 1, 2 * names.index("description") + 1

    def commands():
        yield ("SADD", Queue.redis_queues_keys, queue.key)
        for job_id, payload, description in zip(ids, payloads, descriptions, strict=True):
            values = template.copy()
            values[data_at], values[description_at] = layout.compressed(payload), description
            yield ("HSET", Job.key_for(job_id), *values)
        for start in range(0, len(ids), MOST_ARGUMENTS):
            yield ("RPUSH", queue.key, *ids[start : start + MOST_ARGUMENTS])

    send_once(queue.connection, None, Job.key_for(ids[0]), streamed(commands))
    return Batch(first, ids, payloads, descriptions)


class Batch(Sequence):
    """The RQ jobs of a batch create_jobs saved, in order, each made as it is read (from
    the batch's first, RQ's: jobs of one function and options differ only by their id, data
    and description), so that a batch holds no more than those: 100,000 RQ Jobs held took
    300 MB. Each read makes a Job anew."""

    def __init__(self, first, ids, payloads, descriptions):
        self.first, self.ids, self.payloads, self.descriptions = first, ids, payloads, descriptions

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[each] for each in range(*index.indices(len(self)))]
        return like(self.first, self.ids[index], self.payloads[index], self.descriptions[index])


def like(job, job_id, payload, description):
    """A Job like `job` (RQ's, made by Queue.create_job), with its own id, data and
    description."""
    other = copy_of(job)
    other.id, other.data, other.description, other.meta = job_id, payload, description, {}
    return other


@contextmanager
def collector_paused():
    """Python's cycle collector off while a batch is built and sent, on again after (if it
    was on). The batch's tens of thousands of short-lived objects, none in a cycle, set it
    off every 700 allocations: an eighth of the CPU of creating jobs."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def due_time(delay):
    """`delay` seconds from now, rounded up to a whole second: RQ's scheduled registry keeps
    whole seconds, rounded down, which would run a job up to a second early."""
    return datetime.fromtimestamp(math.ceil(time.time() + delay), timezone.utc)


def create_job(queue, function, data, timing=NOW):
    return create_jobs(queue, function, [data], timing)[0]
