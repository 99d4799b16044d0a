"""Entries no worker can run, moved aside for a person to inspect, each said once on
stderr and, where a creator may wait on the job, reported failed to it.

Anyone who can write to Redis can put anything on a queue, in a job's hash or in the
scheduled registry: RQ's own code dies on such entries, every time it meets them, and
takes the worker (or the scheduling of every due job) with it.
"""

from .. import layout, lua
from ..connection import until_answered
from ..console import warn
from ..events import stream_key

SET_ASIDE_KEY = "queuing:set_aside:{queue}"  # entries no worker can run, for a person


def is_text(entry):
    try:
        entry.decode()
    except UnicodeDecodeError:
        return False
    return True


def move_entry(connection, source, destination, entry, push="RPUSH"):
    return until_answered(lambda: lua.MOVE_ENTRY(connection, [source, destination], [entry, push]))


def set_aside_undecodable(queue, entries):
    """Move the entries that are not text (no job id can be) from the queue's intermediate
    list to SET_ASIDE_KEY, saying so once each; RQ's own code dies on them, every time.
    Returns how many were set aside."""
    moved = 0
    key = SET_ASIDE_KEY.format(queue=queue.name)
    intermediate = layout.QueueKeys(queue.name).intermediate
    for entry in entries:
        if is_text(entry):
            continue
        if move_entry(queue.connection, intermediate, key, entry):  # one worker wins it
            warn(f"queue {queue.name}: set aside {entry!r}, which is no job id (see list {key})")
            moved += 1
    return moved


def set_aside_job(queue_steps, job_id, execution, worker_keys, error):
    """A job started by this worker that it cannot read (a malformed field of its hash):
    its run ended and the job moved to SET_ASIDE_KEY, said once on stderr, and reported
    failed to its creator, unless another ended its run first. Its hash stays, for a
    person to inspect."""
    queue, keys = queue_steps.queue, queue_steps.keys
    key = SET_ASIDE_KEY.format(queue=queue.name)
    job_id = job_id.decode(errors="replace")
    reason = f"Job set aside: it cannot be read ({error!r})"
    keys_ = [keys.started, key, queue_steps.stream, worker_keys.executions]
    args = [job_id, execution, reason]
    if until_answered(lambda: lua.SET_ASIDE(queue.connection, keys_, args)):
        warn(f"queue {queue.name}: set aside job {job_id}, which cannot be read ({error!r}); see list {key}")


DUE_AT_ONCE = 1000  # due entries RQ's scheduler moves per queue per look


def due_entries(queue, now):
    """The raw entries of the queue's scheduled registry due by `now` (whole seconds), as
    RQ's scheduler reads them."""
    key = layout.QueueKeys(queue.name).scheduled
    return queue.connection.zrangebyscore(key, 0, now, start=0, num=DUE_AT_ONCE)


def is_job_id(entry):
    """Whether a registry entry names one job: RQ reads `ID:anything` as job ID, and would
    enqueue that job again at every look while the entry stays."""
    return is_text(entry) and b":" not in entry


def set_aside_scheduled(queue, entry, reason, report=False):
    """Move a due entry RQ's scheduler cannot handle from the scheduled registry to
    SET_ASIDE_KEY, said once on stderr (and, `report`, told to the creator as failed)."""
    key = SET_ASIDE_KEY.format(queue=queue.name)
    keys = (layout.QueueKeys(queue.name).scheduled, key, stream_key(queue.name))
    error = f"Job set aside: {reason}" if report else ""
    if until_answered(lambda: lua.SET_ASIDE_SCHEDULED(queue.connection, keys, [entry, error])):
        warn(f"queue {queue.name}: set aside scheduled entry {entry!r}: {reason} (see list {key})")
