"""Our worker: RQ's queues, jobs and data (layout.py), RQ's documented API, and each
transition of a job one Lua step (steps.py, scripts/*.lua), as BullMQ's workers move jobs:
a job's end, the take of the next job and its start go to Redis in one round trip.

It runs jobs in its own process or thread (no fork per job, as RQ's SimpleWorker), stops
only between two steps (within STOP_POLL seconds when idle), waits quietly while Redis is
away, runs only its queues' job functions (job.AllowlistJob), and leaves in Redis what
RQ's own worker leaves (tests/test_layout.py compares the two on every path).
"""

import random
import signal
import sys
import threading
import time
import traceback
import uuid
import zlib
from datetime import datetime

import redis
from rq.defaults import DEFAULT_RESULT_TTL
from rq.exceptions import NoSuchJobError
from rq.job import Retry
from rq.job_lifecycle import call_exception_handlers
from rq.queue import Queue
from rq.serializers import JSONSerializer, resolve_serializer
from rq.timeouts import JobTimeoutException

from .. import layout, lua
from ..connection import keep_trying, outage, worth_retrying
from ..console import debug, debugging, raised_at, warn
from ..events import CALLBACKS, COMPLETED, PROGRESS, created_stamp, error_message, stream_key
from ..rq_job import JobFailed, JobRefused, copy_of
from .due_jobs import DueJobs
from .failure import failure_arguments
from .job import WorkerJob, writable
from .maintenance import Maintenance
from .presence import Presence
from .set_aside import is_text, set_aside_job, set_aside_undecodable
from .steps import Progress, StepConnection, Steps, StopWaiting, Watch

STARTED = layout.STARTED.encode()
OWN = layout.TAKEN_FIELDS.index(layout.SHARED_FIELDS[0])  # a job's own values first, a batch's after
DEPENDENCY_IDS = layout.SHARED_FIELDS.index(b"dependency_ids")  # there if it named jobs it depends on
PROTOTYPES_KEPT = 64  # restored jobs a worker copies (job.job_from), one per kind of job
STOP_POLL = 1  # seconds an idle worker waits on the queue before looking for a stop
LEAVE_WITHIN = 1.5  # seconds a stopping worker gives to leaving RQ's registries; they expire anyway
SUSPENDED_POLL = 1.0  # seconds between two looks while `rq suspend` holds the workers
COUNTS_EVERY = 1.0  # seconds: a busy worker's counts of its jobs are written at most this often

# The callbacks that write nothing but their event (events.CALLBACKS): the worker writes
# that event itself, in the step of the job's end, instead of calling them.
OUR_CALLBACKS = frozenset(CALLBACKS.values())


class StopRequest:
    """A worker's stop, asked for by its signal handler: threading.Event's calls, on a
    reentrant lock. A handler runs on the main thread between two bytecodes, also while
    that thread holds the lock inside wait(): setting a threading.Event then waits for its
    lock for ever (a worker hung until killed, seen with faulthandler)."""

    def __init__(self):
        self.condition = threading.Condition(threading.RLock())
        self.flag = False

    def is_set(self):
        return self.flag

    def set(self):
        with self.condition:
            self.flag = True
            self.condition.notify_all()

    def clear(self):
        with self.condition:
            self.flag = False

    def wait(self, timeout=None):
        with self.condition:
            return self.condition.wait_for(lambda: self.flag, timeout)


class WatchedDeathPenalty:
    """A job's timeout, as RQ's UnixSignalDeathPenalty (the same error and words), without
    a system call per job (RQ's arms and disarms an alarm): the worker's watch (steps.Watch)
    looks every steps.TICK seconds for a job past its deadline (fire_if_due) and sends
    SIGALRM to the main thread, whose handler raises the error in the job. A signal that
    lands after the job ended finds nothing armed, and is ignored."""

    armed = None  # the penalty running, whose deadline the watch looks at

    def __init__(self, timeout, exception=JobTimeoutException, **kwargs):
        self.timeout = int(timeout)
        self.exception = exception
        self.deadline = None

    @classmethod
    def install(cls):
        signal.signal(signal.SIGALRM, cls.handle)

    @classmethod
    def handle(cls, signum, frame):
        penalty = cls.armed
        if penalty is not None and time.monotonic() >= penalty.deadline:
            cls.armed = None
            raise penalty.exception(f"Task exceeded maximum timeout value ({penalty.timeout} seconds)")

    @classmethod
    def fire_if_due(cls):
        penalty = cls.armed
        if penalty is not None and time.monotonic() >= penalty.deadline:
            signal.pthread_kill(threading.main_thread().ident, signal.SIGALRM)

    @classmethod
    def clear(cls):
        cls.armed = None

    def __enter__(self):
        if self.timeout > 0:
            self.deadline = time.monotonic() + self.timeout
            WatchedDeathPenalty.armed = self

    def __exit__(self, *exc_info):
        WatchedDeathPenalty.armed = None
        return False


class QueueSteps:
    """A queue's keys as each step takes them (finish.lua's KEYS: take.lua's six, then
    finish.lua's and fail.lua's own), with the RQ Queue."""

    def __init__(self, queue, worker_keys):
        self.queue = queue
        self.keys = layout.QueueKeys(queue.name)
        self.stream = stream_key(queue.name)
        taking = (
            worker_keys.step,
            self.keys.queue,
            self.keys.intermediate,
            self.keys.started,
            worker_keys.worker,
            worker_keys.executions,
        )
        self.step_keys = {  # tuples: lua.Script.packed packs each once
            lua.TAKE: taking,
            lua.FINISH: (*taking, self.keys.finished, self.stream),
            lua.FAIL: (*taking, self.keys.failed, self.stream, self.keys.scheduled),
        }


class Run:
    """A job taken and started by a step, then run: what its end writes."""

    __slots__ = (
        "job",
        "queue",
        "execution",
        "started",
        "epoch",
        "outcome",
        "told",
        "result",
        "failure",
        "error",
    )

    def __init__(self, job, queue, execution, started, epoch):
        self.job, self.queue, self.execution = job, queue, execution
        self.started, self.epoch = started, epoch  # when its step started it: microseconds, and as text
        self.outcome = None  # FINISH or FAIL once it ran
        self.told = False  # whether its outcome's event is ours to write (its callback is ours)
        self.result = ""  # its return value, as its result keeps it ('': none)
        self.failure = self.error = None  # a failure: what its result records, what its event says


class Worker:
    """A worker on `queues` (RQ Queues, or their names) with `connection` (redis-py, bytes).

    `job_functions` ({queue name: the import paths of its job functions}) is what it may
    run: a job naming anything else, or a callback that is not ours, fails with a clear
    message and is never imported. None runs any function and callback, as RQ's own worker
    does. `stopping` (a threading.Event), set, stops it after the job in hand; SIGTERM and
    SIGINT set it, when it runs on the main thread.

    A job whose worker died (SIGKILL, power loss) is noticed within its timeout plus
    lua.ABANDON_GRACE plus MAINTENANCE_EVERY seconds, and reported failed; a job taken off
    the queue but never started goes back on the queue (maintenance.py).
    """

    job_class = WorkerJob
    death_penalty_class = WatchedDeathPenalty

    def __init__(
        self,
        queues,
        connection,
        serializer=JSONSerializer,
        job_functions=None,
        name=None,
        stopping=None,
        exception_handlers=(),
        default_result_ttl=DEFAULT_RESULT_TTL,
        metrics=None,
    ):
        self.connection = connection
        self.serializer = resolve_serializer(serializer)
        self.queues = [
            queue
            if isinstance(queue, Queue)
            else Queue(queue, connection=connection, serializer=self.serializer)
            for queue in queues
        ]
        self.name = name or uuid.uuid4().hex
        self.stopping = stopping or StopRequest()
        self.exception_handlers = list(exception_handlers)
        self.default_result_ttl = default_result_ttl
        self.metrics = metrics  # the metrics.Counts it counts its jobs in, or None (off: nothing counted)
        self.keys = layout.WorkerKeys(self.name)
        callbacks_allowed = None if job_functions is None else OUR_CALLBACKS
        self.job_class = self.job_class.allowing(job_functions, callbacks_allowed)
        self.steps_of = [QueueSteps(queue, self.keys) for queue in self.queues]
        self.client = self.steps = self.progress = self.presence = self.watch = None
        self.maintenance = Maintenance(self)
        self.due_jobs = DueJobs(self.queues, connection, self.serializer)
        self.ran = 0
        self.counts = {lua.FINISH: 0, lua.FAIL: 0}  # its successful and failed jobs (RQ's counts)
        self.worked = 0  # its total working time, microseconds
        self.counts_due = 0.0  # when its counts are next written (time.monotonic())
        self.redis_away = False  # given up on while stopping: leave without waiting again
        self.prototypes = {}  # {a job's fields but its own: the job RQ's restore made of them}
        self.ids = random.Random()  # execution ids: uuid4's 128 random bits, without a system call each
        self.enqueued = False  # the last step's job had dependents, enqueued since

    # Starting and stopping

    def work(self, burst=False, logging_level=None, max_jobs=None):
        """Run jobs until stopped, or in burst mode until the queues are empty, `max_jobs`
        at most, as RQ's Worker.work (`logging_level` is taken for its sake: RQ's loggers
        are set by pool.quiet_rq_logging). Returns whether it ran any. Raises what
        keep_trying raises if Redis cannot be reached as it starts."""
        restore = self.handle_stop_signals()
        try:
            self.connect()
            try:
                self.register_birth()
                self.presence.listen(self.connection)
                self.presence.set_state("started")
                self.loop(burst, max_jobs)
            finally:
                self.teardown()
        finally:
            restore()
        return self.ran > 0

    def handle_stop_signals(self):
        """SIGTERM and SIGINT only note the request (on the main thread): the loop stops
        between two steps, never in the middle of one, where Redis may have moved a job
        and the worker never hear of it. Installed before the worker registers: a signal
        as it registers still has it leave its registration. Returns what undoes it."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def request_stop(signum, frame):
            self.stopping.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        WatchedDeathPenalty.install()

        def restore():
            WatchedDeathPenalty.clear()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore

    def connect(self):
        """A connection of its own for the worker's steps, and a client on the pool for its
        presence (a few commands, each on a pooled connection redis-py checks before use: a
        connection Redis dropped while the steps waited for it is made anew)."""
        pool = self.connection.connection_pool
        self.client = redis.Redis(connection_pool=pool)
        connection = keep_trying(lambda: StepConnection(pool, self.stopping), self.stopping)
        self.steps = Steps(connection, self.stopping)
        self.progress = Progress(self.steps, self.keys.step)
        chores = [connection.cut_if_stuck]
        if hasattr(self.death_penalty_class, "fire_if_due"):
            chores.append(self.death_penalty_class.fire_if_due)
        self.watch = Watch(chores)
        self.presence = Presence(self.client, self.keys, [queue.name for queue in self.queues], self.stopping)

    def register_birth(self):
        self.presence.register_birth()

    def teardown(self):
        """Leave RQ's list of workers and give up the due jobs' locks, at once if Redis is
        away while stopping (the worker's hash and the locks expire by themselves)."""
        if self.progress is not None:
            self.progress.close()
            self.watch.close()
        if self.presence is None:
            return
        # One budget for all of leaving: its waits, each bounded, could add up past a pool's
        # patience with a worker (4 s) on a loaded host as Redis restarted.
        deadline = time.monotonic() + LEAVE_WITHIN
        self.presence.stop_listening()  # 1 s at most, of the budget
        for leave in (self.due_jobs.release, self.presence.register_death):
            if self.redis_away:
                break  # given up on already: waiting again would break the 5 s of a stop
            left = max(deadline - time.monotonic(), 0)  # each is tried once at least; retried within it
            try:
                # answers=False: leaving may send nothing (no locks held), which says nothing of Redis
                keep_trying(leave, self.stopping, patience=min(STOP_POLL, left), answers=False)
            except Exception as error:  # noqa: BLE001 - leaving must not raise over the cause
                if not worth_retrying(error):
                    raise
                self.redis_away = True
        self.client.close()
        self.steps.client.close()

    # The loop

    def loop(self, burst, max_jobs):
        # With several queues, a step takes from the queue of the job it ends, and the next
        # queues are looked at once it is empty (RQ's dequeue goes back to the first each time).
        current, take, ended = 0, "*", None
        while True:
            more = not self.stopping.is_set() and (max_jobs is None or self.ran < max_jobs)
            if not more and ended is None and take == "*":
                return  # nothing to end, nothing taken to hand back
            if more:
                self.between_jobs()
            queue = self.steps_of[current]
            if not more and take != "*" and not self.hand_back(queue, take):  # ended is None then
                self.redis_away = True
                return  # Redis stayed away while stopping
            reply = self.step(queue, ended, take if more else "")
            ended, take = None, "*"
            if reply is None:
                self.redis_away = True
                return  # Redis stayed away while stopping: what was unsent is said
            status, job_id, fields, started, execution = reply
            if status == "started":
                ended = self.run(queue, job_id, fields, started, execution)
                continue
            if status == "stranger":
                warn(
                    f"job {job_id.decode(errors='replace')}: given to another worker while this one held it"
                    " (paused, or cut off from Redis); not run here"
                )
                continue
            if status == "nojob":
                self.skip(queue, job_id)
                continue
            if status == "suspended":
                if burst:
                    return
                self.presence.set_state("suspended")
                self.stopping.wait(SUSPENDED_POLL)
                continue
            if not more:
                return
            if self.enqueued:  # dependents of the job that ended: on the queue now
                self.enqueued = False
                continue
            # the queue is empty, as RQ says before its dequeue; the worker's counts as they are
            self.presence.set_state("idle", self.count_fields())
            if current + 1 < len(self.steps_of):  # the next queue, in the order given
                current += 1
                continue
            current = 0
            if burst:
                return
            taken = self.wait_for_job(self.steps_of[0])
            if taken is not None:
                take = taken

    def between_jobs(self):
        """What the worker does besides jobs, each when due: its heartbeat, the due jobs,
        the maintenance of its queues. Redis away: the next step waits for it."""
        if self.metrics is not None:
            self.metrics.write_if_due()  # for its processor's /metrics
        try:
            self.presence.heartbeat()
            self.due_jobs.move()
            self.maintenance.run_if_due()
        except Exception as error:
            if not worth_retrying(error):
                raise
            outage.lost(error)

    def wait_for_job(self, queue):
        """An id a blocking move took off the queue (BLMOVE, as RQ's dequeue for one queue)
        within STOP_POLL seconds, or None. Several queues, or a Redis before 6.2 (no BLMOVE),
        are looked at again instead."""
        if len(self.steps_of) > 1 or not self.maintenance.has_blmove():
            self.stopping.wait(STOP_POLL / 10)
            return None
        keys = queue.keys
        connection = self.steps.client  # watched: a frozen Redis does not hold a stop

        def blmove():
            with self.steps.lock:  # no progress is sent meanwhile: no job runs
                return connection.execute_command(
                    "BLMOVE", keys.queue, keys.intermediate, "LEFT", "RIGHT", STOP_POLL, blocks=STOP_POLL
                )

        try:
            return keep_trying(blmove, self.stopping, stop_patience=0)
        except StopWaiting:  # frozen, as the worker stops: it leaves without waiting again
            self.redis_away = True
            return None
        except Exception as error:
            if not worth_retrying(error):
                raise
            return None

    def hand_back(self, queue, job_id):
        """Put the job its blocking move took, and that it will not start now that it stops,
        back at the front of the queue at once, for another worker (a rolling restart):
        left in the intermediate list, it would wait STRANDED_AFTER and more for the
        upkeep. Gone from that list, it was given to another already. Returns False if it
        gave up on Redis as it stopped (the upkeep requeues the job)."""
        keys = queue.keys
        try:
            keep_trying(
                lambda: lua.MOVE_ENTRY(self.connection, [keys.intermediate, keys.queue], [job_id, "LPUSH"]),
                self.stopping,
                writes=True,
            )
        except Exception as error:
            if not worth_retrying(error):
                raise
            return False
        debug(f"job {job_id.decode(errors='replace')}: handed back to the queue as this worker stops")
        return True

    # Steps

    def step(self, queue, ended, take):
        """Send the end of `ended` (a Run, or None) with the take of `take` ('*', an id, or
        ''). Returns (status, id, hash, moment, execution id) of what was taken, or None
        if the worker gave up on Redis as it stopped."""
        now = time.time_ns() // 1000  # microseconds: its texts are made once, from whole numbers
        epoch, text = layout.epoch_text(now), layout.moment_text(now)
        execution = f"{self.ids.getrandbits(128):032x}"
        busy = "0" if self.presence.state == "busy" else "1"
        args = [0, self.name, take, execution, epoch, text, busy]
        script = lua.TAKE
        with self.steps.lock:  # the job's progress, taken and sent in one go
            if ended is not None:
                script = ended.outcome
                args += self.end_of(ended, now, text, take_none=take == "")
            keys = queue.step_keys[script]
            try:
                *fields, passed, dependents, status, job_id = self.steps.send(script, keys, args)
            except Exception as error:
                if not worth_retrying(error):
                    raise
                what = "a step" if ended is None else f"the end of job {ended.job.id}"
                self.steps.drop(error, what)
                return None
        if ended is not None:
            self.ended(ended, passed, dependents)
        status = status.decode()
        if status == "started":
            self.presence.state = "busy"
        return status, job_id, fields, (now, epoch), execution

    def counts_text(self):
        """The worker's counts and total working time as a step writes them
        (include/end.lua), now; the next in COUNTS_EVERY seconds (RQ's worker writes them at
        each job's end: a write a job, of two fields of the worker's hash, a tenth of its
        end's Redis time)."""
        self.counts_due = time.monotonic() + COUNTS_EVERY
        successful, failed = self.counts[lua.FINISH], self.counts[lua.FAIL]
        return f"{successful or ''} {failed or ''} {layout.epoch_text(self.worked)}"

    def count_fields(self):
        """The worker's counts, as RQ's worker keeps them in its hash (for Presence)."""
        self.counts_due = time.monotonic() + COUNTS_EVERY
        fields = {"total_working_time": layout.epoch_text(self.worked)}
        if self.counts[lua.FINISH]:
            fields["successful_job_count"] = self.counts[lua.FINISH]
        if self.counts[lua.FAIL]:
            fields["failed_job_count"] = self.counts[lua.FAIL]
        return fields if self.ran else {}

    def end_of(self, run, now, text, take_none=False):
        """ARGV[8...] of the end of `run` (finish.lua, fail.lua): the job, its event (its
        outcome's, if its callback is ours, else its progress not sent yet, if any), and
        what becomes of it."""
        job = run.job
        meta, progress = self.progress.take()
        self.counts[run.outcome] += 1
        self.worked += max(now - run.started, 0)
        counts = ""
        if take_none or time.monotonic() >= self.counts_due:
            counts = self.counts_text()
        kind, value, own = COMPLETED, "", None
        if run.outcome is lua.FAIL:
            kind, own = failure_arguments(job, now / 1_000_000, text, run.failure)
            value = run.error
        if not run.told:
            kind, value = (PROGRESS, progress.pop()) if progress else ("", "")
        args = [
            job.id,
            run.execution,
            run.epoch,
            meta,
            kind,
            created_stamp(job) if kind else "",
            " ".join(map(str, progress)),
        ]
        if own is not None:
            args += own
            args += (value, counts)
        else:
            ttl = job.get_result_ttl(self.default_result_ttl)
            args += (ttl, "+inf" if ttl < 0 else now // 1_000_000 + ttl, value, run.result, counts)
        args.append("1" if job.depends else "")
        while args[-1] == "":  # the last, most often '', left out (the scripts read nil as '')
            args.pop()
        return args

    def ended(self, run, passed, dependents):
        """After a job's end was sent: said if it was dropped, its dependents enqueued."""
        if passed == b"0":
            warn(
                f"job {run.job.id}: reported abandoned while this worker held it"
                " (paused, or cut off from Redis); its end here is dropped"
            )
        elif dependents != b"0" and not (run.outcome is lua.FAIL and run.job.retries_left):
            # '' (the step was done before, its reply lost): maybe, and enqueuing is safe
            self.maintenance.enqueue_dependents(run.queue.queue, run.job)
            self.enqueued = True

    # Running a job

    def run(self, queue, job_id, fields, started, execution):
        """Run the job a step took and started; returns its Run, whose end the next step
        sends (None if the job could not be read: set aside)."""
        now, epoch = started
        try:
            job = self.job_from(job_id, fields, layout.moment_of(now))
        except Exception as error:
            if worth_retrying(error):
                raise
            set_aside_job(queue, job_id, execution, self.keys, error)
            return None
        run = Run(job, queue, execution, now, epoch)
        try:
            with self.death_penalty_class(
                job.timeout or Queue.DEFAULT_TIMEOUT, JobTimeoutException, job_id=job.id
            ):
                result = job.perform()
            if isinstance(result, Retry):
                raise JobFailed("a job returning Retry is retried by RQ's own worker only")
            self.progress.settle(job)
            self.succeeded(run, result)
        except BaseException:  # whatever the job raises is its failure, as in RQ's perform_job
            exc_info = sys.exc_info()
            try:
                self.progress.settle(job)
            except Exception:  # noqa: BLE001 - a meta it cannot write: its events go without
                pass
            self.failed(run, exc_info)
            # The traceback holds this frame, which holds it: a cycle per failed job, left
            # to the cycle collector, cost a failure more than a success.
            del exc_info
        self.ran += 1
        if self.metrics is not None:
            self.count(run)
        return run

    def count(self, run):
        """Count the job `run` ran in the metrics (its outcome, its wait and its run time)."""
        job = run.job
        outcome = "completed" if run.outcome is lua.FINISH else "retried" if job.retries_left else "failed"
        self.metrics.job_ran(run.queue.queue.name, outcome, job.enqueued_at, run.started, time.time())

    def job_from(self, job_id, values, moment):
        """The job of `values` (its fields' as taken, layout.TAKEN_FIELDS'), as it is now
        started: what RQ's restore makes of them. RQ's restore of the fields every job of a
        batch shares (its function, callbacks, timeout, retention, queue...) is made once
        and copied: it is two fifths of making the job (tests/test_workers.py holds the copy
        to RQ's own). Its moments are read by layout.read_timestamp: RQ's strptime is 16 us
        each."""
        own, signature = values[:OWN], tuple(values[OWN:])
        prototype = self.prototypes.get(signature)
        if prototype is None:
            if len(self.prototypes) >= PROTOTYPES_KEPT:
                self.prototypes.clear()
            prototype = self.prototypes[signature] = self.restored(job_id, values)
        data, description, meta, created, enqueued, ended = own
        if data is None:  # as RQ's restore says it
            raise NoSuchJobError(f"Unexpected job format: job {job_id!r} has no data")
        job = copy_of(prototype)
        job.id = job_id.decode()
        try:
            job.meta = self.serializer.loads(meta) if meta else {}
        except Exception:  # noqa: BLE001 - unreadable: as RQ's restore keeps it
            job = self.restored(job_id, values)
        try:
            job.data = zlib.decompress(data)
        except zlib.error:  # as RQ reads it: not compressed
            job.data = data
        job.description = description.decode() if description else None
        job.created_at = layout.read_timestamp(created) if created else datetime.now(layout.UTC)
        job.enqueued_at = layout.read_timestamp(enqueued) if enqueued else None
        job.ended_at = layout.read_timestamp(ended) if ended else None
        job.started_at = job.last_heartbeat = moment
        job.depends = signature[DEPENDENCY_IDS] is not None
        job.progress = self.progress
        writable(job)
        return job

    def restored(self, job_id, values):
        """RQ's restore of a job whose fields' `values` (layout.TAKEN_FIELDS') were taken, as
        it is now started (its start's moments are set by job_from)."""
        job = self.job_class(job_id.decode(), connection=self.connection)
        job.serializer = self.serializer  # checked once (RQ checks it per job made: 8 us)
        fields = {field: value for field, value in zip(layout.TAKEN_FIELDS, values, strict=True) if value}
        job.restore({**fields, b"status": STARTED, b"worker_name": self.name.encode()})
        return job

    def succeeded(self, run, result):
        """RQ's success callback, then the end to write (finish.lua). Ours writes nothing
        but the job's event: the worker writes it, with the job's end."""
        job = run.job
        callback = job.success_callback
        if job.callback_names.get("success") == CALLBACKS["success"]:  # ours: its event, in the step
            run.told = True
        elif callback is not None:  # any other runs now, on a real connection, as RQ runs it
            with self.death_penalty_class(job.success_callback_timeout, JobTimeoutException, job_id=job.id):
                callback(job, job.connection, result)
        run.outcome = lua.FINISH
        run.result = layout.return_value_text(job.serializer, result) or ""

    def failed(self, run, exc_info):
        """RQ's failure callback, the failure said, then the end to write (fail.lua). Ours
        writes nothing but the job's event: the worker writes it, with the job's end."""
        job = run.job
        callback = job.failure_callback
        if job.callback_names.get("failure") == CALLBACKS["failure"]:  # ours: its event, in the step
            run.told = True
        elif callback is not None:
            try:
                with self.death_penalty_class(
                    job.failure_callback_timeout, JobTimeoutException, job_id=job.id
                ):
                    callback(job, job.connection, *exc_info)
            except Exception:  # as RQ: a failing callback's error becomes the job's
                exc_info = sys.exc_info()
        if type(exc_info[1]) is not JobFailed or self.exception_handlers or debugging():
            self.handle_exception(job, *exc_info)  # a job's own verdict is said by its event alone
        run.outcome = lua.FAIL
        run.failure = failure_text(exc_info)
        run.error = error_message(exc_info[1])
        del exc_info  # a traceback from here would hold this frame: see run()

    def handle_exception(self, job, *exc_info):
        """Say a job's failure on stderr (one line; the traceback with QUEUING_DEBUG), then
        call the worker's exception handlers, as RQ's handler chain does."""
        error = exc_info[1]
        if isinstance(error, JobRefused):  # someone wrote a job we do not run: say so
            warn(f"job {job.id}: {error}")
        elif isinstance(error, JobFailed):  # the job's own verdict, reported by its event
            if debugging():  # the line is not even made otherwise: one per failed job
                debug(f"job {job.id} failed: {error}")
        elif debugging():
            warn(
                f"Worker {self.name}: job {job.id} failed:\n{''.join(traceback.format_exception(*exc_info))}"
            )
        else:
            warn(f"Worker {self.name}: job {job.id} failed: {error!r} at {raised_at(exc_info[2])}")
        if self.exception_handlers:
            call_exception_handlers(self.exception_handlers, job, *exc_info)

    def skip(self, queue, job_id):
        """An id with no job behind it, as RQ skips it (out of the intermediate list too);
        one that is not text is set aside (RQ's own code dies reading it)."""
        if not is_text(job_id):
            set_aside_undecodable(queue.queue, [job_id])
            return
        warn(f"queue {queue.queue.name}: skipped {job_id.decode()!r}, an id with no job")
        keep_trying(lambda: self.connection.lrem(queue.keys.intermediate, 1, job_id), self.stopping)


def failure_text(exc_info):
    """What a failure records (the result's exc_string): the traceback, as RQ's own worker
    records it; for a job's own verdict (JobFailed: a blacklisted number, a refused job),
    its last line alone, `queuing_system.rq_job.JobFailed: message`. That line is what anyone
    reads of it (the creator's event, follower.failure_message, rq-dashboard), and on
    Python 3.11 formatting the frames above it costs more than the job itself."""
    error = exc_info[1]
    if isinstance(error, JobFailed):  # as traceback.format_exception_only says it
        kind = type(error)
        message = str(error)
        return (
            f"{kind.__module__}.{kind.__qualname__}: {message}\n"
            if message
            else f"{kind.__module__}.{kind.__qualname__}\n"
        )
    return "".join(traceback.format_exception(*exc_info))
