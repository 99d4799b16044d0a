"""Entries no worker can run, moved aside for a person to inspect, each said once on
stderr and, where a creator may wait on the job, reported failed to it.

Anyone who can write to Redis can put anything on a queue, in a job's hash or in the
scheduled registry: RQ's own code dies on such entries, every time it meets them, and
takes the worker (or the scheduling of every due job) with it.
"""

from rq.utils import current_timestamp

from .connection import until_answered
from .console import warn
from .events import STREAM_MAXLEN, stream_key
from .redis_speedups import LuaScript

SET_ASIDE_KEY = "queuing:set_aside:{queue}"  # entries no worker can run, for a person


def is_text(entry):
    try:
        entry.decode()
    except UnicodeDecodeError:
        return False
    return True


# An entry moved from one list to another in one step, by whoever finds it first: a
# retried LREM that Redis had already done would answer 0, and the entry be in neither.
# KEYS: from, to; ARGV: entry, LPUSH (to the front) or RPUSH. Returns 1 if it was moved.
MOVE_ENTRY = LuaScript("""
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call(ARGV[2], KEYS[2], ARGV[1])
return 1
""")

# A job that cannot be read, set aside and reported failed in one step, once: by whoever
# takes it out of the intermediate list or the started registry (or, ARGV[4] '0',
# unconditionally: RQ popped it, as its dequeue of several queues does).
# KEYS: intermediate list, set-aside list, started registry, event stream;
# ARGV: job id, error, stream maxlen, guarded ('1' or '0').
SET_ASIDE = LuaScript("""
local held = redis.call('LREM', KEYS[1], 1, ARGV[1])
local prefix = ARGV[1] .. ':'
for _, entry in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if string.sub(entry, 1, #prefix) == prefix then held = held + redis.call('ZREM', KEYS[3], entry) end
end
if held == 0 and ARGV[4] == '1' then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'job', ARGV[1], 'event', 'failed', 'error', ARGV[2])
return 1
""")


def move_entry(connection, source, destination, entry, push="RPUSH"):
    return until_answered(lambda: MOVE_ENTRY(connection, [source, destination], [entry, push]))


def set_aside_undecodable(queue, entries):
    """Move the entries that are not text (no job id can be) from the queue's intermediate
    list to SET_ASIDE_KEY, saying so once each; RQ's own code dies on them, every time.
    Returns how many were set aside."""
    moved = 0
    key = SET_ASIDE_KEY.format(queue=queue.name)
    for entry in entries:
        if is_text(entry):
            continue
        if move_entry(queue.connection, queue.intermediate_queue_key, key, entry):  # one worker wins it
            warn(f"queue {queue.name}: set aside {entry!r}, which is no job id (see list {key})")
            moved += 1
    return moved


def set_aside_job(queue, job_id, error, guarded=True):
    """A job RQ cannot read (a malformed field in its hash): moved from the queue's
    intermediate list or started registry (`guarded`: only if it is still in one) to
    SET_ASIDE_KEY, said once on stderr, and reported failed to its creator. Its hash
    stays, for a person to inspect."""
    key = SET_ASIDE_KEY.format(queue=queue.name)
    keys = (queue.intermediate_queue_key, key, queue.started_job_registry.key, stream_key(queue.name))
    args = (job_id, f"Job set aside: it cannot be read ({error!r})", STREAM_MAXLEN, "1" if guarded else "0")
    if until_answered(lambda: SET_ASIDE(queue.connection, keys, args)):
        warn(f"queue {queue.name}: set aside job {job_id}, which cannot be read ({error!r}); see list {key}")


# A due entry of the scheduled registry set aside in one step, once (whoever removes it
# from the registry), and, ARGV[4] '1', reported failed to its creator.
# KEYS: scheduled registry, set-aside list, event stream; ARGV: entry, error, maxlen, report.
SET_ASIDE_SCHEDULED = LuaScript("""
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
if ARGV[4] == '1' then
  local event = {'job', ARGV[1], 'event', 'failed', 'error', ARGV[2]}
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', unpack(event))
end
return 1
""")

DUE_AT_ONCE = 1000  # due entries RQ's scheduler moves per queue per look


def due_entries(queue):
    """The raw entries of the queue's scheduled registry that are due now, as RQ reads them."""
    key = queue.scheduled_job_registry.key
    return queue.connection.zrangebyscore(key, 0, current_timestamp(), start=0, num=DUE_AT_ONCE)


def is_job_id(entry):
    """Whether a registry entry names one job: RQ reads `ID:anything` as job ID, and would
    enqueue that job again at every look while the entry stays."""
    return is_text(entry) and b":" not in entry


def set_aside_scheduled(queue, entry, reason, report=False):
    """Move a due entry RQ's scheduler cannot handle from the scheduled registry to
    SET_ASIDE_KEY, said once on stderr (and, `report`, told to the creator as failed)."""
    key = SET_ASIDE_KEY.format(queue=queue.name)
    keys = (queue.scheduled_job_registry.key, key, stream_key(queue.name))
    args = (entry, f"Job set aside: {reason}", STREAM_MAXLEN, "1" if report else "0")
    if until_answered(lambda: SET_ASIDE_SCHEDULED(queue.connection, keys, args)):
        warn(f"queue {queue.name}: set aside scheduled entry {entry!r}: {reason} (see list {key})")
