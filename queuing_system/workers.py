"""RQ workers for our jobs: SimpleWorker (no fork per job), tuned for few round trips,
stopping only at safe points, quiet on stdout (RQ's logs go to stderr, warnings only).

`work()` runs one in this process (supervisor.run_workers runs N of them), `WorkerThread`
runs one on a thread of an app, `drain()` empties the queues now (tests, tools).

For speed and safe stops this module, and no other, leans on RQ's private names: it
overrides SimpleWorker's _finalize_success, _finalize_failure, _install_signal_handlers,
_shutdown and _pubsub_exception_handler; reads SimpleWorker's _stop_requested,
_stopped_job_id, _ordered_queues and _exc_handlers, and sets its _state; calls Job's
_handle_success and _handle_failure; and sets Job's _status, _result, and its callbacks' names and functions
(_success_callback_name, _failure_callback_name, _stopped_callback_name, _success_callback,
_failure_callback, _stopped_callback), and the job of an Execution made for a stand-in
(_job). RQ_PRIVATE_NAMES lists them for
tests/test_rq_fence.py, which fails, naming what moved, on an RQ other than the pinned
minor release. QUEUING_WORKER=rq runs RQ's own SimpleWorker instead (see WORKER_ENV).
"""

import logging
import os
import signal
import sys
import threading
import time
import uuid
from functools import partial

from rq import Retry, SimpleWorker
from rq.callbacks import execute_success_callback
from rq.exceptions import DequeueTimeout, DeserializationError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.job_lifecycle import call_exception_handlers, format_exc_info
from rq.serializers import JSONSerializer
from rq.timeouts import JobTimeoutException, TimerDeathPenalty
from rq.utils import now
from rq.worker import WorkerStatus

from .bookkeeping import IN_LIST, IN_SET, STOP_PATIENCE, Outbox, Start, running_with
from .callbacks import PIPELINE_SAFE
from .connection import (
    RETRYABLE,
    connect_for_jobs,
    is_fatal,
    outage,
    retry_delays,
    until_answered,
    wait_until_connected,
)
from .console import debug, debugging, warn
from .due_jobs import DueJobs
from .jobs import JOB_TIMEOUT, ON_FAILURE, ON_SUCCESS, JobFailed, JobRefused, due_time, job_queue
from .set_aside import is_text, move_entry, set_aside_job, set_aside_undecodable

# (class, name): RQ's private methods we override or call, and attributes we read or set.
RQ_PRIVATE_NAMES = (
    (SimpleWorker, "_finalize_success"),
    (SimpleWorker, "_finalize_failure"),
    (SimpleWorker, "_install_signal_handlers"),
    (SimpleWorker, "_shutdown"),
    (SimpleWorker, "_pubsub_exception_handler"),
    (SimpleWorker, "_stop_requested"),
    (SimpleWorker, "_stopped_job_id"),
    (SimpleWorker, "_ordered_queues"),
    (SimpleWorker, "_exc_handlers"),
    (SimpleWorker, "_state"),
    (Job, "_handle_success"),
    (Job, "_handle_failure"),
    (Job, "_status"),
    (Job, "_result"),
    (Job, "_success_callback_name"),
    (Job, "_failure_callback_name"),
    (Job, "_stopped_callback_name"),
    (Job, "_success_callback"),
    (Job, "_failure_callback"),
    (Job, "_stopped_callback"),
    (Execution, "_job"),
)

# Where the callbacks lived before events.py was split: jobs queued then still name them.
RENAMED_CALLBACKS = {
    "queuing_system.events.report_success": ON_SUCCESS,
    "queuing_system.events.report_failure": ON_FAILURE,
}

OUR_CALLBACKS = {None, ON_SUCCESS.name, ON_FAILURE.name}


def disarm(job):
    """Why `job` must not run on a worker allowing `job.allowed` functions, or None if it may.

    Reads names only, never imports one: a callback that is not ours is dropped before RQ
    could import it (RQ calls the failure callback even for a job that never ran).
    """
    refusals = []
    for kind in ("success", "failure", "stopped"):
        renamed = RENAMED_CALLBACKS.get(getattr(job, f"_{kind}_callback_name"))
        if renamed:
            setattr(job, f"_{kind}_callback_name", renamed.name)
            setattr(job, f"_{kind}_callback", renamed.func)
        name = getattr(job, f"_{kind}_callback_name")
        if name not in OUR_CALLBACKS:
            refusals.append(f"its {kind} callback {name!r} is not one of ours")
            setattr(job, f"_{kind}_callback_name", None)
            setattr(job, f"_{kind}_callback", None)
    # Ours never ask for these: from a stranger, webhooks would make the worker call any
    # address, and repeats send the notification again, up to 10^20 times.
    if job.webhooks:
        refusals.append("it asks for webhooks, which our queues never send")
        job.webhooks = None
    if job.repeats_left:
        refusals.append("it asks to be repeated, which our queues never do")
        job.repeats_left = None
    if job.func_name not in job.allowed or job.instance is not None:
        refusals.insert(0, f"{job.func_name!r} is not a job function of queue {job.origin}")
    return "; ".join(refusals) or None


# What a job's hash must hold to be started as it is taken, with the writes made for a
# stand-in job: our jobs' timeout, and nothing that takes RQ's own path ('' is absent).
STAND_IN_FIELDS = {"timeout": str(JOB_TIMEOUT), "repeats_left": "", "rate_limit_key": "", "webhooks": ""}

RESTART_DELAY = 1.0  # seconds before replacing a worker that gave up
STOP_POLL = 1  # seconds an idle worker blocks on the queue before checking for a stop
HEARTBEAT_EVERY = 15  # seconds; RQ lets a worker's key live worker_ttl + 60 = 480 s
SUSPENSION_CHECK_EVERY = 1.0  # seconds between two looks for `rq suspend`
MAINTENANCE_EVERY = 10  # seconds between two looks for jobs whose worker died (RQ: 600)
ABANDON_GRACE = 10  # seconds past its timeout before a started job counts as abandoned
PUBSUB_RETRY_EVERY = 2.0  # seconds between two tries of RQ's command channel while Redis is away


class Worker(SimpleWorker):
    """RQ's SimpleWorker, stopping only between two Redis calls, quiet about expected failures,
    with its per-job bookkeeping queued in an outbox: one round trip per job (the last job's
    end, the next job's dequeue and its start), where RQ's own makes 23.

    A job whose worker died (SIGKILL, power loss) is noticed within its timeout plus
    ABANDON_GRACE plus MAINTENANCE_EVERY seconds, and reported failed (RQ calls its
    failure callback); a job moved off the queue but never started goes back on the queue.

    `job_functions` ({queue name: the import paths of its job functions}) is what the
    worker may run: a job naming anything else (or a callback that is not ours) fails
    with a clear message, without importing it. None runs anything, as RQ's own does.
    """

    def __init__(self, *args, stopping=None, job_functions=None, **kwargs):
        kwargs.setdefault("maintenance_interval", MAINTENANCE_EVERY)
        super().__init__(*args, **kwargs)
        self.stopping = stopping or threading.Event()  # set: finish the job in hand, then stop
        self.job_functions = job_functions
        self._outbox = None
        self._due_jobs = None
        self.started = {}  # {job id: its execution}, for a job started as it was taken
        self._stand_ins = {}  # {queue name: the stand-in job of its starts}

    @property
    def outbox(self):
        """This worker's queued writes (made on first use: RQ also builds workers to list them)."""
        if self._outbox is None:
            self._outbox = Outbox(self.connection, self.stopping)
        return self._outbox

    @property
    def due_jobs(self):
        """Moves this worker's delayed and retried jobs onto their queues when due."""
        if self._due_jobs is None:
            self._due_jobs = DueJobs(self.queues, self.connection, self.serializer, log_level())
        return self._due_jobs

    def execute_job(self, job, queue):
        try:
            self.perform_queued_job(job, queue)
        except RETRYABLE:
            raise
        except Exception as error:  # RQ's own bookkeeping choked on the job's hash
            self.outbox.flush()
            set_aside_job(queue, job.id, error, self.uses_intermediate_list())

    def perform_queued_job(self, job, queue):
        """RQ's SimpleWorker.execute_job and perform_job, with the bookkeeping in the outbox.

        A job using what the outbox does not cover (repeats, rate limits, webhooks) and any
        failure take RQ's own path, after the outbox is sent, so events keep their order.
        """
        refusal = self.refusal(job, queue)
        if refusal is None and (job.repeats_left or job.has_rate_limit or job.webhooks):
            self.outbox.flush()
            return super().execute_job(job, queue)
        execution = self.started.pop(job.id, None) or self.start_job(job, queue)
        if execution is None:
            return  # a stopping worker gave up on Redis: never started, the job is requeued
        try:
            if refusal:
                raise JobRefused(f"Job refused: {refusal}")
            job.started_at = now()
            timeout = job.timeout or queue.DEFAULT_TIMEOUT
            with (
                running_with(self.outbox),
                self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id),
            ):
                result = job.perform()
            self.end_job(job, queue, execution, result)
        except:  # noqa: E722 - whatever the job raises is its failure, as in RQ's perform_job
            self.fail_job(job, queue, execution, sys.exc_info())

    def refusal(self, job, queue):
        """Why this job must not run here, or None (see job_functions)."""
        if self.job_functions is None:
            return None
        job.allowed = self.job_functions.get(queue.name, ())
        try:
            return disarm(job)
        except DeserializationError:
            return None  # its data is not JSON: it fails as it starts, as under RQ's worker

    def start_job(self, job, queue):
        """RQ's prepare_execution and prepare_job_execution, sent with what was queued before.
        Returns the execution, or None if the job must not run: Redis could not be told,
        or the job was given to another worker while this one was frozen (SIGSTOP, a VM
        pause) between taking and starting it."""
        started = []
        # Started only if still ours: out of the intermediate list, where RQ's dequeue put it.
        guard = (IN_LIST, queue.intermediate_queue_key, job.id) if self.uses_intermediate_list() else ()
        note = (
            f"job {job.id}: given to another worker while this one held it"
            " (paused, or cut off from Redis); not run here"
        )
        group = self.outbox.add(self.start_writes(job, started), guard, note)
        if not self.outbox.flush() or not group.passed:
            return None
        execution = started[0]
        self.executions[execution.id] = execution
        return execution

    def start_writes(self, job, started):
        """The writes of RQ's prepare_execution for `job`, as a function of a pipeline that
        appends the Execution it makes to `started`."""
        ttl = self.get_heartbeat_ttl(job)

        def write(pipeline):
            started.append(Execution.create(job, ttl, pipeline=pipeline, worker_name=self.name))
            # RQ also beats for the worker and the job here: the worker beats every
            # HEARTBEAT_EVERY seconds, and prepare_for_execution sets the job's beat.
            if self.get_state() != WorkerStatus.BUSY:  # busy from one job to the next
                self.set_state(WorkerStatus.BUSY, pipeline=pipeline)
            job.prepare_for_execution(self.name, pipeline=pipeline)
            pipeline.persist(job.key)

        return write

    def start_for_any_job(self, queue):
        """The start of whichever job the next take gets (see bookkeeping.Start): RQ's
        writes for a stand-in job of this queue, with the timeout our jobs have, and none
        of what takes RQ's own path (repeats, rate limits, webhooks)."""
        stand_in = self._stand_ins.get(queue.name)
        if stand_in is None:  # its id: letters and digits only, nothing special to Lua's gsub
            token = f"queuingjob{uuid.uuid4().hex}"
            stand_in = self.job_class(token, connection=self.connection, serializer=self.serializer)
            stand_in.origin, stand_in.timeout = queue.name, JOB_TIMEOUT
            self._stand_ins[queue.name] = stand_in
        state, started = self.get_state(), []
        scratch = self.connection.pipeline(transaction=False)  # collects commands, never sent
        self.start_writes(stand_in, started)(scratch)
        commands = [command for command, _options in scratch.command_stack]
        self._state = state  # busy once a job is started with it
        return Start(stand_in.id, STAND_IN_FIELDS, commands), started[0]

    def uses_intermediate_list(self):
        """As RQ's dequeue: a job moves to an intermediate list (LMOVE) for one queue on
        Redis 6.2 and later; otherwise it is popped."""
        return len(self.queues) == 1 and self.get_redis_server_version() >= (6, 2, 0)

    def still_started(self, job, queue, execution):
        """The guard of a job's end: its execution is still in the started registry (else
        it was reported abandoned while this worker was paused, and has its outcome)."""
        note = (
            f"job {job.id}: reported abandoned while this worker held it"
            " (paused, or cut off from Redis); its end here is dropped"
        )
        return (IN_SET, queue.started_job_registry.key, execution.composite_key), note

    def end_job(self, job, queue, execution, result):
        """RQ's _finalize_success and handle_job_success, queued: sent with the next write.

        Instead of WATCHing the job's dependents, the transaction that marks it finished
        checks for them: one added later sees it finished, and RQ enqueues it right away.
        """
        if isinstance(result, Retry):
            self.outbox.flush()
            return self._finalize_success(job, queue, execution, result)
        job.ended_at = now()
        job._result = result
        job._status = JobStatus.FINISHED
        callback = job.success_callback
        queued_callback = callback in PIPELINE_SAFE
        if callback is not None and not queued_callback:
            self.outbox.flush()
            execute_success_callback(job, self.death_penalty_class, result)
        result_ttl = job.get_result_ttl(self.default_result_ttl)
        job.last_heartbeat = job.ended_at  # written with the rest of the job by _handle_success

        def write(pipeline):
            if queued_callback:
                callback(job, pipeline, result)
            self.increment_successful_job_count(pipeline=pipeline)
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            if result_ttl != 0:
                job._handle_success(result_ttl, pipeline=pipeline, **self.result_fields(job, execution))
            job.cleanup(result_ttl, pipeline=pipeline, remove_from_queue=False)
            self.cleanup_execution(job, pipeline=pipeline, execution=execution)
            pipeline.exists(job.dependents_key)

        followup = partial(enqueue_dependents, queue, job)
        self.outbox.add(write, *self.still_started(job, queue, execution), then=followup)
        return None

    def result_fields(self, job, execution):
        """What RQ records of the execution with a job's result, success or failure."""
        return {
            "worker_name": self.name,
            "execution_id": execution.id,
            "execution_started_at": execution.created_at,
            "execution_ended_at": job.ended_at,
        }

    def fail_job(self, job, queue, execution, exc_info):
        """RQ's _finalize_failure and handle_job_failure, queued: the failure callback (the
        outcome event) and the failure's bookkeeping go to Redis together, so a kill between
        the two cannot report a job failed twice (once by it, once as abandoned).

        A callback that is not ours, or a job stopped by `rq stop-job`, take RQ's own path."""
        callback = job.failure_callback
        queued_callback = callback is None or callback in PIPELINE_SAFE
        retry = job.should_retry
        if not queued_callback or self._stopped_job_id == job.id:
            self.outbox.flush()
            return self._finalize_failure(job, queue, execution, exc_info)
        job._status = JobStatus.FAILED
        job.ended_at = now()
        self.handle_exception(job, *exc_info)
        exc_string = failure_text(exc_info)
        # RQ writes the heartbeat and the status apart; the job saved whole after them (by
        # its failed registry) writes them again, with the same values.
        saved = not self.disable_default_exception_handler and not retry

        def write(pipeline):
            if saved:
                job.last_heartbeat = job.ended_at
            else:
                job.heartbeat(job.ended_at, job.failure_callback_timeout, pipeline=pipeline)
            if callback is not None:
                callback(job, pipeline, *exc_info)
            if not retry and not saved:
                job.set_status(JobStatus.FAILED, pipeline=pipeline)
            self.cleanup_execution(job, pipeline=pipeline, execution=execution)
            if saved:
                job._handle_failure(exc_string, pipeline=pipeline, **self.result_fields(job, execution))
            self.increment_failed_job_count(pipeline)
            if job.started_at:
                self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            if retry:
                retry_job(job, queue, pipeline)
            pipeline.exists(job.dependents_key)

        followup = None if retry else partial(enqueue_dependents, queue, job)
        self.outbox.add(write, *self.still_started(job, queue, execution), then=followup)
        return None

    def bootstrap(self, *args, **kwargs):
        # RQ registers the worker, then installs its signal handlers: a SIGTERM in between
        # killed it still registered (seen under load). Handlers first: the loop then stops
        # before its first job and deregisters.
        self._install_signal_handlers()
        super().bootstrap(*args, **kwargs)

    def teardown(self):
        if self._outbox is not None:  # before RQ deletes the worker's key
            # A worker stopping waits a little for Redis; one whose loop failed, for as long
            # as it takes (a stop request then cuts the wait short).
            self._outbox.close(patience=STOP_PATIENCE if self.stopping.is_set() else None)
        try:
            if self._due_jobs is not None:
                self._due_jobs.release()
        except RETRYABLE as error:  # Redis away: the locks expire by themselves
            outage.lost(error)
        try:
            super().teardown()
        except RETRYABLE as error:  # Redis away: the worker's key expires by itself
            outage.lost(error)

    def get_heartbeat_ttl(self, job, working_time=0.0):
        # RQ keeps a started SimpleWorker job alive for its timeout + 60 s; the death penalty
        # ends it at its timeout, so a little grace is enough to tell a dead worker.
        return int(job.timeout or JOB_TIMEOUT) + ABANDON_GRACE

    def clean_registries(self):
        for queue in self.queues:
            requeue_stranded(queue)
        try:
            super().clean_registries()
        except UnicodeDecodeError:
            # An id that is not text came into an intermediate list since requeue_stranded
            # looked (another worker's take), and RQ reads each as text: set it aside now.
            # RQ's pass runs again at the next maintenance, once its lock has expired.
            self.set_aside_undecodable_ids()

    def run_maintenance_tasks(self):
        try:
            super().run_maintenance_tasks()
        except RETRYABLE as error:  # Redis away: the dequeue loop waits for it
            outage.lost(error)

    def _install_signal_handlers(self):
        # RQ raises StopRequested from the signal handler when idle, which can land in the
        # middle of BLMOVE: the server has moved a job to the intermediate list, the worker
        # never sees it, and RQ fails it a minute later without its failure callback.
        # Only note the request; the loop stops at the next safe point, within STOP_POLL.
        def request_stop(signum, frame):
            self.stopping.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

    def _shutdown(self):
        self.stopping.set()  # RQ's own stop request (its shutdown command), noted alike

    def _pubsub_exception_handler(self, exc, pubsub, pubsub_thread):
        # RQ logs an error every 2 s while Redis is away; one note per outage instead.
        if isinstance(exc, RETRYABLE) and not is_fatal(exc):
            outage.lost(exc)
            time.sleep(PUBSUB_RETRY_EVERY)
        else:
            super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

    def check_for_suspension(self, burst):
        # RQ asks Redis before every job; `rq suspend` is a human's command, once a second
        # is soon enough.
        checked = getattr(self, "_suspension_checked", 0.0)
        if time.monotonic() - checked >= SUSPENSION_CHECK_EVERY:
            try:
                super().check_for_suspension(burst)
            except RETRYABLE as error:  # Redis away: the dequeue loop waits for it
                outage.lost(error)
            self._suspension_checked = time.monotonic()

    def set_state(self, state, pipeline=None):
        # RQ writes IDLE after each job and again before the next dequeue.
        if pipeline is None and state == getattr(self, "_state", None):
            return
        super().set_state(state, pipeline)

    def heartbeat(self, timeout=None, pipeline=None):
        # RQ beats three times per job, three commands each, one round trip per command:
        # a third of a job's round trips. Inside a pipeline a beat is free; on its own, it
        # goes as one pipeline, and no more often than HEARTBEAT_EVERY.
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        last = getattr(self, "last_heartbeat", None)
        if timeout is None and last and (now() - last).total_seconds() < HEARTBEAT_EVERY:
            return None
        try:
            with self.connection.pipeline() as beat:
                super().heartbeat(timeout, beat)
                beat.execute()
        except RETRYABLE as error:  # a missed beat is harmless: the key lives 8 minutes
            outage.lost(error)
        return None

    def stop_wanted(self):
        if self.stopping.is_set():
            self._stop_requested = True  # RQ's loop then ends after the job in hand
        return self._stop_requested

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """RQ's dequeue loop, ours: a stop request is seen within STOP_POLL seconds, and a
        lost Redis is waited for here (one note on stderr per outage). RQ's own loop sleeps
        up to a minute between two attempts and never looks for a stop request."""
        delays = retry_delays()
        idle_since = time.monotonic()
        while not self.stop_wanted():
            try:
                taken = self.dequeue_once(blocking=timeout is not None)
            except RETRYABLE as error:
                if is_fatal(error):
                    raise
                outage.lost(error)
                self.stopping.wait(next(delays))
                continue
            delays = retry_delays()
            if taken is not None or timeout is None:
                return taken
            if max_idle_time is not None and time.monotonic() - idle_since >= max_idle_time:
                return None
        return None  # RQ's loop then stops

    def dequeue_once(self, blocking):
        """The next job, as (job, queue), or None if none came within STOP_POLL seconds
        (or, not `blocking`, if the queues are empty). A job whose hash cannot be read is
        set aside (see set_aside_job), not left to kill every worker that takes it."""
        while True:
            try:
                return self.dequeue_readable(blocking)
            except RETRYABLE:
                raise
            except Exception as error:  # RQ's and our dequeue both name the job that failed
                if getattr(error, "job_id", None) is not None:
                    set_aside_job(error.queue, error.job_id, error, self.uses_intermediate_list())
                elif isinstance(error, UnicodeDecodeError):  # RQ took an id that is not text
                    self.set_aside_undecodable_ids()
                else:
                    raise

    def set_aside_undecodable_ids(self):
        """Whatever is not text in the queues' intermediate lists: RQ dies reading it."""
        for queue in self.queues:
            set_aside_undecodable(queue, self.connection.lrange(queue.intermediate_queue_key, 0, -1))

    def dequeue_readable(self, blocking):
        self.heartbeat()
        if self.should_run_maintenance_tasks:
            self.run_maintenance_tasks()
        self.due_jobs.move()
        taken = self.take_queued_job()
        if taken is not None or self.stop_wanted():
            return taken
        self.set_state(WorkerStatus.IDLE)
        try:
            taken = self.queue_class.dequeue_any(
                self._ordered_queues,
                STOP_POLL if blocking else None,
                connection=self.connection,
                job_class=self.job_class,
                serializer=self.serializer,
                death_penalty_class=self.death_penalty_class,
            )
        except DequeueTimeout:
            return None
        outage.back()
        if taken is not None:
            job, queue = taken
            self.reorder_queues(reference_queue=queue)
            job.redis_server_version = self.get_redis_server_version()
        return taken

    def take_queued_job(self):
        """RQ's non-blocking dequeue (LMOVE to the intermediate list, then fetch), as one
        script sent with the outbox: the last job's end and the next job in one round trip.
        Returns (job, queue), or None once the queue is empty (the outbox is then sent)."""
        if not self.uses_intermediate_list():
            self.outbox.flush()
            return None  # RQ's own dequeue for several queues (it pops without LMOVE)
        queue = self.queues[0]
        take = (queue.key, queue.intermediate_queue_key, self.job_class.redis_job_namespace_prefix)
        while True:
            start, execution = self.start_for_any_job(queue)
            taken = self.outbox.flush(take=take, start=start)
            if not taken:
                return None  # the queue is empty, or a stopping worker gave up on Redis
            raw_id, fields, started = taken
            if not is_text(raw_id):
                set_aside_undecodable(queue, [raw_id])
                continue
            job = self.restore_job(queue, raw_id.decode(), fields)
            if job is not None:
                if started is not None:
                    self.note_started(job, execution)
                self.heartbeat()
                job.redis_server_version = self.get_redis_server_version()
                return job, queue
            # an id with no job behind it, as RQ skips it: out of the intermediate list too
            warn(f"queue {queue.name}: skipped {raw_id.decode()!r}, an id with no job")
            self.connection.lrem(queue.intermediate_queue_key, 1, raw_id)

    def note_started(self, job, execution):
        """`job` was started as it was taken, with the stand-in's `execution`."""
        execution.job_id, execution._job = job.id, job
        self.executions[execution.id] = execution
        self.started[job.id] = execution
        self._state = WorkerStatus.BUSY

    def restore_job(self, queue, job_id, fields):
        """What RQ's Job.fetch makes of a job's hash; None if it is gone (RQ skips those)."""
        if not fields:
            return None
        job = self.job_class(job_id, connection=self.connection, serializer=self.serializer)
        try:
            job.restore(dict(zip(fields[::2], fields[1::2], strict=False)))
        except Exception as error:  # as RQ's dequeue reports it
            error.job_id, error.queue = job_id, queue
            raise
        return job

    def handle_exception(self, job, *exc_info):
        error = exc_info[1]
        if isinstance(error, JobRefused):  # someone wrote a job we do not run: say so
            warn(f"job {job.id}: {error}")
        elif isinstance(error, JobFailed):  # the job's own verdict, reported by its event
            if debugging():  # the line is not even made otherwise: one per failed job
                debug(f"job {job.id} failed: {error}")
        elif debugging():
            super().handle_exception(job, *exc_info)  # RQ's log, with the traceback
        else:
            self.log.error("Worker %s: job %s failed: %r", self.name, job.id, error)
            call_exception_handlers(self._exc_handlers, job, *exc_info)


def retry_job(job, queue, pipeline):
    """RQ's Job.retry, all on the pipeline, and never early. RQ schedules a retry at now
    plus its interval kept in whole seconds rounded down, so a 1 s back-off could run at
    once (and writes the status apart): the due time is rounded up, as a delayed job's."""
    interval = job.get_retry_interval()
    if not interval:
        return job.retry(queue, pipeline)  # back on the queue at once
    job.retries_left -= 1
    queue.schedule_job(job, due_time(interval), pipeline=pipeline)  # saved as scheduled
    return None


def failure_text(exc_info):
    """What RQ records of a failure (the result's exc_string): the traceback, as RQ's own
    worker does; for a job's own verdict (JobFailed: a blacklisted number, a refused job),
    its last line alone, `queuing_system.jobs.JobFailed: message`. That line is what anyone
    reads of it (the creator's event, follower.failure_message, rq-dashboard), and on
    Python 3.11 formatting the frames above it costs more than the job itself: each frame's
    source line is parsed again to place its `^^^` markers."""
    error = exc_info[1]
    if isinstance(error, JobFailed):  # as traceback.format_exception_only says it
        kind = type(error)
        return f"{kind.__module__}.{kind.__qualname__}" + (f": {error}\n" if str(error) else "\n")
    return format_exc_info(exc_info)


class ThreadDeathPenalty(TimerDeathPenalty):
    """RQ's TimerDeathPenalty, which rewrites the message of the exception class it is given
    for the whole process: JobTimeoutException then named the last timeout set anywhere.
    Each penalty gets its own subclass (still caught as JobTimeoutException)."""

    def __init__(self, timeout, exception=JobTimeoutException, **kwargs):
        own = type(exception.__name__, (exception,), {"__module__": exception.__module__})
        super().__init__(timeout, own, **kwargs)


class ThreadWorker(Worker):
    """A worker on a thread of a server process, whose main thread owns the signals: it
    stops when its owner sets `stopping`."""

    death_penalty_class = ThreadDeathPenalty  # SIGALRM cannot time out a job off the main thread

    def _install_signal_handlers(self):
        pass


class WorkerThread(threading.Thread):
    """Processes queues on a background thread of a server process until stop().

    If RQ's loop gives up (it quits on an unexpected error, e.g. Redis gone for a while),
    a new worker takes over after RESTART_DELAY.
    """

    def __init__(self, job_functions, connection):
        super().__init__(name="rq-worker", daemon=True)
        self.job_functions = job_functions
        self.connection = connection
        self.stopping = threading.Event()

    def run(self):
        quiet_rq_logging()
        while not self.stopping.is_set():
            worker = make_worker(self.job_functions, self.connection, ThreadWorker, stopping=self.stopping)
            try:
                worker.work(logging_level=log_level())
            except RETRYABLE as error:  # Redis away as the worker started: wait for it
                outage.lost(error)
            except Exception as error:  # the thread must outlive one worker's failure
                warn(f"background worker stopped: {error!r}; starting another")
            self.stopping.wait(RESTART_DELAY)

    def stop(self):
        """Finish the job in hand (within STOP_POLL seconds when idle), then end the thread."""
        self.stopping.set()
        if self.is_alive():
            self.join()


class BackgroundWorker:
    """A worker on `queues` (RQ Queues), on a thread of this process, started by the first
    start() (later calls do nothing) and stopped by stop(), which lets it finish its job.
    It runs only the job functions named in `job_functions` (import paths)."""

    def __init__(self, queues, connection, job_functions=()):
        self.job_functions = {queue.name: tuple(job_functions) for queue in queues}
        self.connection = connection
        self.lock = threading.Lock()
        self.thread = None

    def start(self):
        with self.lock:
            if self.thread is None:
                self.thread = WorkerThread(self.job_functions, self.connection)
                self.thread.start()

    def stop(self):
        with self.lock:
            if self.thread is not None:
                self.thread.stop()


def requeue_stranded(queue):
    """Put back on the queue the jobs a dead worker had taken (BLMOVE) but never started.

    RQ fails them after a minute without calling their failure callback, so their
    creator would wait forever. Never started, they are safe to run: seen at two
    maintenance passes in a row, they go back to the front of the queue. (A worker that
    was only paused finds its job gone when it wakes, and does not start it.)
    """
    intermediate = queue.intermediate_queue
    entries = queue.connection.lrange(intermediate.key, 0, -1)  # read once: see clean_registries
    set_aside_undecodable(queue, entries)
    for job_id in (entry.decode() for entry in entries if is_text(entry)):
        if job_id in queue.started_job_registry or intermediate.set_first_seen(job_id):
            continue
        if move_entry(queue.connection, intermediate.key, queue.key, job_id, "LPUSH"):  # one worker wins it
            queue.connection.delete(intermediate.get_first_seen_key(job_id))
            debug(f"job {job_id} was taken by a worker that stopped before starting it: requeued")


def enqueue_dependents(queue, job, dependents):
    """RQ's enqueue of the jobs waiting on this one, if `dependents` (the reply of EXISTS
    on its dependents key) says there are any; None: unknown (the reply was lost)."""
    if dependents is not False and dependents != 0:
        until_answered(lambda: queue.enqueue_dependents(job))


def log_level():
    return logging.DEBUG if debugging() else logging.WARNING


class OneLineFormatter(logging.Formatter):
    """A log record on one line: the exception's message instead of its traceback."""

    def format(self, record):
        if record.exc_info and not debugging():
            error = record.exc_info[1]
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
            record.msg = f"{record.getMessage()} ({error!r})"
            record.args = None
        return super().format(record)


def quiet_rq_logging():
    """Route RQ's loggers to stderr; by default only warnings and errors, one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(asctime)s %(name)s %(message)s"))
    logger = logging.getLogger("rq")
    logger.handlers[:] = [handler]
    logger.setLevel(log_level())
    logger.propagate = False


# QUEUING_WORKER=rq runs RQ's own SimpleWorker instead of ours: to compare the two, or to
# fall back after an RQ upgrade moved what workers.py relies on. It keeps the output and
# the events, and loses what ours adds: the allowed job functions (any importable function
# named by a job runs), the bookkeeping in one round trip (RQ's makes 23), stops only at
# safe points, and the quiet waiting for Redis.
WORKER_ENV = "QUEUING_WORKER"


def rqs_own_worker_chosen():
    return os.environ.get(WORKER_ENV) == "rq"


def make_worker(job_functions, connection, worker_class=None, **options):
    """A worker for the queues of `job_functions` ({queue name: the import path of its job
    function, or several}), running those functions only (RQ's own, if chosen: see
    WORKER_ENV, runs any)."""
    if worker_class is None and rqs_own_worker_chosen():  # `options` are ours: not for it
        queues = [job_queue(name, connection) for name in job_functions]
        return SimpleWorker(queues, connection=connection, serializer=JSONSerializer)
    allowed = {
        name: frozenset([functions] if isinstance(functions, str) else functions)
        for name, functions in job_functions.items()
    }
    queues = [job_queue(name, connection) for name in allowed]
    worker_class = worker_class or Worker
    return worker_class(
        queues, connection=connection, serializer=JSONSerializer, job_functions=allowed, **options
    )


def work(job_functions, connection=None):
    """One worker in this process on `connection` (default: REDIS_URL's), until SIGTERM or
    SIGINT. A worker cut off from Redis as it starts (registering, subscribing) is replaced
    once Redis answers."""
    quiet_rq_logging()
    connection = connect_for_jobs() if connection is None else wait_until_connected(connection, quiet=True)
    stopping = threading.Event()
    while not stopping.is_set():
        try:
            make_worker(job_functions, connection, stopping=stopping).work(logging_level=log_level())
            return
        except RETRYABLE as error:
            if is_fatal(error):
                raise
            outage.lost(error)
            stopping.wait(RESTART_DELAY)


def drain(job_functions, connection):
    """Process every job queued now, in this process (RQ's burst mode): for tests and tools."""
    quiet_rq_logging()
    make_worker(job_functions, connection).work(burst=True, logging_level=log_level())
