"""Kue's job semantics on RQ: sequential ids, JSON payloads, lifecycle events.

`queue.create(type, data).save()` becomes `create_jobs(queue, FUNCTION, [data])`: one MULTI/EXEC
that saves every job of the batch or none, with ids from one counter shared by all queues
(the first job ever created on an empty Redis is 1, as in Kue), and the job's success and
failure reported to the event stream by RQ's own callbacks, so any RQ worker emits them.
"""

import argparse
import gc
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import redis
from rq import Callback, Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

from . import rq_speedups
from .callbacks import report_failure, report_success
from .connection import ANSWER_ATTEMPTS, RETRYABLE, until_answered
from .redis_speedups import merge_writes

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

ON_SUCCESS = Callback(report_success)
ON_FAILURE = Callback(report_failure)


class JobFailed(Exception):
    """A job's own, expected failure (Kue's `done(new Error(...))`): its message is the error."""


class JobRefused(JobFailed):
    """A job our worker will not run: it names a function (or callback) that is not one of
    its queue's. Anyone who can write to Redis can write such a job."""


@dataclass(frozen=True)
class Timing:
    """When a job runs, as Kue's `.delay(ms)`, `.attempts(n)` and `.backoff({type:
    'exponential'})` said it (BullMQ's `delay`, `attempts` and `backoff` alike), in RQ's
    whole seconds. The default, NOW, is the spec's: at once, and once."""

    delay: int = 0  # seconds before the first attempt
    attempts: int = 1  # tries in all, the first included
    backoff: int = 0  # seconds before the first retry, doubled before each next one

    @classmethod
    def of(cls, options):
        """The Timing of a command line parsed with add_timing_arguments."""
        return cls(options.delay, options.attempts, options.backoff)

    def due(self):
        """When a job created now with this timing runs (see due_time)."""
        return due_time(self.delay)

    def retry(self):
        """RQ's Retry for the attempts after the first, or None."""
        retries = self.attempts - 1
        if retries < 1:
            return None
        return Retry(max=retries, interval=[self.backoff * 2**n for n in range(retries)])


NOW = Timing()


def integer_at_least(minimum, name):
    """An argparse type: a whole number no less than `minimum`, called `name` in its error."""

    def parse(text):
        value = int(text)
        if value < minimum:
            raise ValueError(text)
        return value

    parse.__name__ = name  # argparse names the type in its error
    return parse


def add_timing_arguments(parser):
    """Kue's `.delay()`, `.attempts()` and `.backoff()` as a creator's options; none given:
    NOW, as the spec runs it. Read them back with Timing.of(parser.parse_args())."""
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


def timing_options(description, argv=None):
    """The Timing a creator's command line asks for (none: NOW, as the spec runs it). A
    bad value ends the script with argparse's one-line error and exit code 2."""
    parser = add_timing_arguments(argparse.ArgumentParser(description=description))
    return Timing.of(parser.parse_args(argv))


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


def check_notifications(datas):
    """Refuse a batch of notification jobs' data before anything is created: TypeError or
    ValueError naming the first entry that is not a dict with phoneNumber and message text."""
    for index, data in enumerate(datas):
        if not isinstance(data, dict):
            raise TypeError(f"Job {index} is not an object")
        for field in NOTIFICATION_FIELDS:
            if not isinstance(data.get(field), str):
                raise ValueError(f"Job {index} has no {field} string")


def job_queue(name, connection):
    """An RQ queue whose jobs are JSON: nobody who can write to Redis can run code in a worker.
    Every creator and worker makes one before its first job: RQ's speed-ups go in here."""
    rq_speedups.install()
    return Queue(name, connection=connection, serializer=JSONSerializer)


def next_job_ids(connection, count):
    """Reserve `count` consecutive ids in one round trip."""
    last = connection.incrby(JOB_ID_KEY, count)
    return [str(job_id) for job_id in range(last - count + 1, last + 1)]


def reserve_job_ids(connection, count=1):
    """Kue's ids for `count` new jobs, as text: consecutive, from one counter shared by every
    queue (the first job ever created on an empty Redis is "1"). Pass each as RQ's job_id."""
    return until_answered(lambda: next_job_ids(connection, count))


@contextmanager
def saved_once(queue, job_ids):
    """A pipeline for RQ's writes of the jobs `job_ids` (enqueue, enqueue_many, enqueue_at
    with `pipeline=`), sent when the block ends as one MULTI/EXEC: every job is saved, or
    none, and once. A dropped connection is retried: the batch is sent under WATCH of its
    first job, so redis-py never sends it twice (a batch Redis had saved would be queued
    twice), and a lost reply is settled by looking for that job."""
    job_queue(queue.name, queue.connection)  # RQ's speed-ups, for the jobs made in the block
    first_key = Job.key_for(job_ids[0])
    with collector_paused(), queue.connection.pipeline() as batch:
        until_answered(lambda: watching(batch, first_key))
        batch.multi()  # as RQ's enqueue leaves a pipeline it is given
        yield batch
        merge_writes(batch)  # its replies are not read
        send_once(batch, queue.connection, first_key)


def watching(pipeline, key):
    pipeline.reset()  # a try that failed left it unwatched
    pipeline.watch(key)


def send_once(batch, connection, first_key):
    """The MULTI/EXEC of the pipeline `batch` (of `connection`, WATCHing `first_key`); the
    same commands again, under a new WATCH, while the connection drops before an answer."""
    commands = list(batch.command_stack)  # redis-py empties the pipeline once it is sent
    for attempt in range(1, ANSWER_ATTEMPTS + 1):
        try:
            if attempt > 1:
                watching(batch, first_key)
                batch.multi()
                for args, options in commands:
                    batch.execute_command(*args, **options)
            batch.execute()
            return
        except (redis.WatchError, *RETRYABLE) as error:
            # The batch was saved whole or not at all: its first job tells which.
            if until_answered(lambda: connection.exists(first_key)):
                return
            if attempt == ANSWER_ATTEMPTS:
                raise redis.ConnectionError(f"the jobs could not be saved: {error}") from None


def enqueue_many_at(queue, when, job_datas, pipeline):
    """RQ's enqueue_at for a batch (RQ's own takes one job): the jobs of `job_datas`
    (Queue.prepare_data's) scheduled for `when` on `pipeline`; returns them."""
    jobs = []
    for data in job_datas:
        fields = data._asdict()
        del fields["at_front"]  # a scheduled job goes to the back when due
        jobs.append(queue.schedule_job(queue.create_job(**fields), when, pipeline=pipeline))
    return jobs


def job_calls(function, datas, ids, timing=NOW, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL):
    """Queue.prepare_data of each data dict, with its id and our jobs' options."""
    return [
        Queue.prepare_data(
            function,
            (data,),
            job_id=job_id,
            timeout=JOB_TIMEOUT,
            result_ttl=result_ttl,
            failure_ttl=failure_ttl,
            retry=timing.retry(),
            on_success=ON_SUCCESS,
            on_failure=ON_FAILURE,
        )
        for job_id, data in zip(ids, datas, strict=True)
    ]


def create_jobs(queue, function, datas, timing=NOW, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL):
    """Save one job per data dict on `queue`, atomically and once; return the RQ jobs in order
    (the numbered scripts show the same steps: reserve_job_ids, saved_once, enqueue_many).

    `function` is the import path of the job function ("7_job_processor.process"), which
    receives the data dict, as Kue's process callback received `job.data`. The jobs run
    as `timing` says (a delayed one waits in RQ's scheduled registry, which our workers
    move on time: see due_jobs.py). A finished job is kept `result_ttl` seconds, a failed
    one `failure_ttl`.
    """
    datas = list(datas)
    if not datas:
        return []
    ids = reserve_job_ids(queue.connection, len(datas))
    calls = job_calls(function, datas, ids, timing, result_ttl, failure_ttl)
    with saved_once(queue, ids) as pipeline:
        if timing.delay:
            return enqueue_many_at(queue, timing.due(), calls, pipeline)
        return queue.enqueue_many(calls, pipeline=pipeline)


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
