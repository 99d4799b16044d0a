"""A worker's upkeep of its queues, every MAINTENANCE_EVERY seconds (RQ's workers: every
10 minutes), by whichever of their workers comes first:

- a job whose worker died (SIGKILL, power loss) is found by its expired run in the started
  registry and ended as RQ ends it, failed ("Job abandoned: ...") or retried, with its
  event, in one step that claims it (abandon.lua): reported once, not run again (its
  notification may already be sent);
- a job a worker had taken off the queue but never started (it died, or froze, between its
  blocking move and the start) goes back to the front of the queue (requeue_stranded.lua);
- what is not text in the intermediate lists is set aside (RQ's own code dies reading it);
- then RQ's own upkeep of the registries (finished, failed, deferred, ready, rate limits:
  rq.registry.clean_registries) and of the list of workers, under RQ's maintenance lock,
  and of job groups.
"""

import time
from datetime import datetime

from rq.exceptions import NoSuchJobError
from rq.group import Group
from rq.queue import Queue
from rq.registry import clean_registries
from rq.utils import get_version
from rq.worker_registration import clean_worker_registry

from .. import layout, lua
from ..connection import until_answered, worth_retrying
from ..console import debug, warn
from ..events import ABANDONED, created_stamp
from .failure import failure_arguments
from .set_aside import is_text, set_aside_job, set_aside_undecodable

MAINTENANCE_EVERY = 10  # seconds between two looks at a queue's upkeep
# Seconds a job waits in an intermediate list, taken but not started, before it counts as
# stranded. Every worker looks, each on its own clock: two looks can be a moment apart, and
# a job is there for a moment as a worker takes it (RQ waits a minute).
STRANDED_AFTER = MAINTENANCE_EVERY / 2


class Maintenance:
    """The upkeep of `worker`'s queues (a core.Worker), when due."""

    def __init__(self, worker):
        self.worker = worker
        self.next_run = 0.0
        self.failing = None  # the error last said of RQ's own upkeep
        self.version = None

    def has_blmove(self):
        """Whether this Redis moves a job from list to list as it blocks (6.2 and later)."""
        if self.version is None:
            self.version = get_version(self.worker.connection)
        return self.version >= (6, 2, 0)

    def run_if_due(self):
        if time.monotonic() < self.next_run:
            return
        self.next_run = time.monotonic() + MAINTENANCE_EVERY
        for queue in self.worker.steps_of:
            self.clean(queue)
        # RQ's upkeep of job groups (shared by every queue): once a round, by one worker
        if Group.acquire_maintenance_lock(self.worker.connection, MAINTENANCE_EVERY - 1):
            Group.clean_registries(self.worker.connection)

    def clean(self, queue):
        connection, keys = self.worker.connection, queue.keys
        set_aside_undecodable(queue.queue, connection.lrange(keys.intermediate, 0, -1))
        requeued, no_job = lua.REQUEUE_STRANDED(
            connection,
            [keys.intermediate, keys.queue, keys.started],
            [keys.first_seen(""), layout.epoch_text(int(time.time() * 1_000_000)), STRANDED_AFTER],
        )
        for job_id in requeued:
            debug(f"job {job_id.decode()} was taken by a worker that stopped before starting it: requeued")
        set_aside_undecodable(queue.queue, no_job)  # came in since the look above
        for job_id in filter(is_text, no_job):
            if connection.lrem(keys.intermediate, 1, job_id):
                debug(f"queue {queue.queue.name}: dropped {job_id!r} (no job) from its intermediate list")
        for run in connection.zrangebyscore(keys.started, 0, int(time.time())):
            self.abandon(queue, run)
        self.rqs_own(queue.queue)

    def abandon(self, queue, run):
        """End the job of `run` (an expired J:E of the started registry), claimed."""
        connection, keys = self.worker.connection, queue.keys
        job_id, _, execution = run.decode(errors="replace").partition(":")
        if not is_text(run) or not execution:
            warn(f"queue {queue.queue.name}: dropped {run!r} from its started registry, no run of a job")
            connection.zrem(keys.started, run)
            return
        try:
            job = self.worker.job_class.fetch(
                job_id, connection=connection, serializer=self.worker.serializer
            )
        except NoSuchJobError:
            connection.zrem(keys.started, run)  # as RQ's cleanup drops it
            return
        except Exception as error:
            if worth_retrying(error):
                raise
            set_aside_job(queue, job_id.encode(), execution, self.worker.keys, error)
            return
        if job.get_status(refresh=False) != layout.STARTED:
            connection.zrem(keys.started, run)  # ended already: what RQ's cleanup drops
            return
        now = time.time()
        moment = datetime.fromtimestamp(now, layout.UTC)
        failure = layout.ABANDONED_FAILURE.format(moment=moment)
        kind, becomes = failure_arguments(job, now, layout.timestamp_text(moment), failure)
        job_keys = [keys.started, keys.queue, keys.failed, keys.scheduled, queue.stream, layout.QUEUES_KEY]
        # "1": its dependencies' set, if any, expires with it (a rare path: not worth a read)
        args = [job.id, execution, "1", kind, created_stamp(job), ABANDONED, *becomes]
        claimed, dependents = until_answered(lambda: lua.ABANDON(connection, job_keys, args))
        if claimed == b"1":
            debug(f"job {job.id}: its worker stopped before finishing it; {becomes[0]}")
            if self.worker.metrics is not None:
                self.worker.metrics.job_abandoned(queue.queue.name)
            if dependents == b"1":
                self.enqueue_dependents(queue.queue, job)

    def rqs_own(self, queue):
        """RQ's upkeep of the registries and of its list of workers, reading jobs with the
        worker's job class (which imports no callback it does not allow)."""
        ours = Queue(
            queue.name,
            connection=queue.connection,
            serializer=queue.serializer,
            job_class=self.worker.job_class,
        )
        if not ours.acquire_maintenance_lock():
            return
        try:
            clean_registries(ours)
            clean_worker_registry(ours)
            self.failing = None
        except Exception as error:  # a job RQ cannot read: said once, tried again next time
            if worth_retrying(error):
                raise
            if repr(error) != self.failing:
                warn(f"queue {queue.name}: RQ's upkeep of its registries failed: {error!r}; trying again")
                self.failing = repr(error)
        finally:
            ours.release_maintenance_lock()

    def enqueue_dependents(self, queue, job):
        """RQ's enqueue of the jobs waiting on this one."""
        until_answered(lambda: queue.enqueue_dependents(job))
