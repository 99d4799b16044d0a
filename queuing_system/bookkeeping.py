"""RQ's own bookkeeping writes for a job, sent in fewer round trips, each batch once.

Stock RQ makes 23 round trips to Redis per job (`benchmarks/bench.py worker`), and on this
kind of machine a round trip costs more CPU (two system calls and a context switch) than
the job itself. Our worker queues the same writes (RQ's own methods, given a pipeline) in
an `Outbox` and sends them together, as one step of Redis (the SEND_BATCH script):

- a job's end (status, result, registries, its outcome event) goes with the worker's
  next dequeue, which comes right after it;
- a job's progress events go with whatever is sent next, or after FLUSH_AFTER seconds if
  the job is still running, as Kue's `job.progress()` returned before its write was done.

A batch is done once. Its reply can be lost after Redis ran it (a dropped connection, a
killed client); sent again, it would repeat a job's outcome, or take a second job while
the first waits in the intermediate list. So each batch carries its outbox's sequence
number, Redis keeps the last one done (and the job it took) under MARKER_KEY, and a batch
sent again is answered, not run again.

A group of writes may be guarded: written only if this worker still holds its job (the
job is still in the intermediate list, or its execution in the started registry). A
worker frozen long enough (SIGSTOP, a VM pause) finds its job given to another, and drops
its writes instead of running the job again or reporting a second outcome.

A batch that takes a job may also start it, in the same step: a `Start` carries the
writes RQ makes to start a job, made by RQ's own methods for a stand-in whose id is a
token, and the script writes them with the token replaced by the id of the job taken (if
the job's hash has the fields they were made for). One round trip per job instead of two.
"""

import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

from .connection import RETRYABLE, describe, outage, own_connection, retry_delays
from .console import warn
from .redis_speedups import LuaScript

FLUSH_AFTER = 0.05  # seconds a queued write may wait while a job runs
# Seconds a stopping worker waits for an unreachable Redis to take its last writes: the
# whole stop must fit in the 5 s the spec allows.
STOP_PATIENCE = 2.0
LATE_RETRY_AFTER = 1.0  # seconds between two tries of the timer while Redis is away
MARKER_KEY = "queuing:outbox:{token}"  # an outbox's last batch done: seq, guards passed, job taken
MARKER_TTL = 86_400  # seconds: only a batch sent again after a day away would run twice

# Guards, (kind, key, member): the group is written only if
IN_LIST = "lrem"  # the member is in the list; it is taken out
IN_SET = "zscore"  # the member is in the sorted set
TAKEN_FROM_SET = "zrem"  # the member is in the sorted set; it is taken out

# KEYS[1]: the outbox's marker. ARGV: seq, marker ttl, then what to take after the writes
# (queue, intermediate list, job key prefix; '' for nothing), the number of groups, per
# group its guard (kind, key, member; kind '' for none) and its number of commands, each
# as its number of arguments then the arguments; last, the number of replies wanted and
# the 1-based indices of their commands.
# Returns {guards passed ('1' or '0' per group), the first error or nil, the id of the
# job taken or nil, its hash or nil, the replies wanted (nil: not written)...}.
# A batch already done gets its first four again (its hash read again) and no replies.
# Then the start of the job taken: the token, the number of fields to check then (field,
# value) each ('' for a field that must be absent or empty), the number of commands then
# each as for a group. Written, with the token in every argument replaced by the job's
# id, only if every field holds and the job is still in the intermediate list (taken out
# of it, as a start's guard does); reply[5] says whether ('1' or '0').
SEND_BATCH = """
local marker, seq = KEYS[1], tonumber(ARGV[1])
local queue, intermediate, prefix = ARGV[3], ARGV[4], ARGV[5]
local function taken_job(id)
  if not id or id == '' then return false, false end
  return id, redis.call('HGETALL', prefix .. id)
end
if tonumber(redis.call('HGET', marker, 'seq') or '0') >= seq then
  local id, fields = taken_job(redis.call('HGET', marker, 'taken'))
  local started = redis.call('HGET', marker, 'started') or '0'
  return {redis.call('HGET', marker, 'passed') or '', false, id, fields, started}
end
local function failed(reply)
  return type(reply) == 'table' and reply.err
end
local passed, replies, first_error = {}, {}, false
local i, n = 7, 0
for group = 1, tonumber(ARGV[6]) do
  local kind, key, member, count = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  i = i + 4
  local ok = true
  if kind ~= '' then
    local reply
    if kind == 'lrem' then reply = redis.pcall('LREM', key, 1, member)
    elseif kind == 'zrem' then reply = redis.pcall('ZREM', key, member)
    else reply = redis.pcall('ZSCORE', key, member) end
    if failed(reply) then first_error = first_error or reply.err end
    ok = not failed(reply) and reply ~= false and reply ~= 0
  end
  passed[group] = ok and '1' or '0'
  for _ = 1, count do
    local argc = tonumber(ARGV[i])
    n = n + 1
    if ok then
      local reply = redis.pcall(unpack(ARGV, i + 1, i + argc))
      if failed(reply) then
        first_error = first_error or reply.err
        reply = false
      end
      replies[n] = reply
    end
    i = i + 1 + argc
  end
end
local id = false
if queue ~= '' then id = redis.call('LMOVE', queue, intermediate, 'LEFT', 'RIGHT') end
local wanted = i
i = i + 1 + tonumber(ARGV[i])
local started = '0'
local token = ARGV[i]
if id and token ~= '' then
  local key, holds = prefix .. id, true
  i = i + 2
  for _ = 1, tonumber(ARGV[i - 1]) do
    holds = holds and (redis.call('HGET', key, ARGV[i]) or '') == ARGV[i + 1]
    i = i + 2
  end
  if holds and redis.call('LREM', intermediate, 1, id) == 1 then
    local with_id = string.gsub(id, '%%', '%%%%')
    for _ = 1, tonumber(ARGV[i]) do
      local argc, command = tonumber(ARGV[i + 1]), {}
      for a = 1, argc do
        local arg = ARGV[i + 1 + a]
        if string.find(arg, token, 1, true) then arg = string.gsub(arg, token, with_id) end
        command[a] = arg
      end
      local reply = redis.pcall(unpack(command))
      if failed(reply) then first_error = first_error or reply.err end
      i = i + 1 + argc
    end
    started = '1'
  end
end
passed = table.concat(passed)
redis.call('HSET', marker, 'seq', seq, 'passed', passed, 'taken', id or '', 'started', started)
redis.call('EXPIRE', marker, ARGV[2])
local fields
id, fields = taken_job(id)
local result = {passed, first_error, id, fields, started}
for w = 1, tonumber(ARGV[wanted]) do
  local reply = replies[tonumber(ARGV[wanted + w])]
  if reply == nil then reply = false end
  result[5 + w] = reply
end
return result
"""

_running = threading.local()


def current_outbox():
    """The outbox of the job this thread is running under our worker; None otherwise."""
    return getattr(_running, "outbox", None)


@contextmanager
def running_with(outbox):
    """While a job runs: its progress (callbacks.report_progress) is queued in `outbox`."""
    _running.outbox = outbox
    try:
        yield
    finally:
        _running.outbox = None


@dataclass
class Group:
    """Writes queued together under one guard; `passed` is known once they are sent."""

    guard: tuple = ()  # (kind, key, member), or () for none
    start: int = 0  # index of its first command in the outbox's stack
    note: str = ""  # said on stderr if the guard does not hold
    passed: bool | None = None


@dataclass
class Start:
    """A job's start, written by the batch that takes the job (see SEND_BATCH): `commands`
    made for a stand-in job whose id is `token`, written for the job taken if its hash
    has the `fields` ({field: value, '' for absent}) they were made for."""

    token: str
    fields: dict
    commands: list

    def arguments(self):
        args = [self.token, len(self.fields)]
        for field, value in self.fields.items():
            args += [field, value]
        args.append(len(self.commands))
        for command in self.commands:
            args += [len(command), *command]
        return args


NO_START = ("",)


@dataclass
class Batch:
    """Queued writes sealed under a sequence number, sent (and sent again) as they are."""

    seq: int
    commands: list
    groups: list
    followups: list  # (command index, function of its reply, its group)
    take: tuple = ()  # (queue key, intermediate key, job key prefix): take a job after the writes
    start: Start | None = None  # and start it


class Outbox:
    """Writes queued on a pipeline (as RQ's methods make them), sent together by `flush()`.

    Thread-safe: the worker's thread queues and flushes, a timer thread sends what has
    waited FLUSH_AFTER. While Redis is unreachable a flush waits for it (one note on
    stderr per outage), so what is queued (a job's outcome) is not dropped, unless the
    worker is stopping (`stopping`, a threading.Event): then it gives up after
    STOP_PATIENCE seconds and says what it dropped.
    """

    def __init__(self, connection, stopping=None):
        self.pipeline = connection.pipeline(transaction=True)  # collects commands, never sent
        self.client = own_connection(connection)
        self.send_batch = LuaScript(SEND_BATCH)
        self.marker = MARKER_KEY.format(token=uuid.uuid4().hex)
        self.seq = 0
        self.stopping = stopping or threading.Event()
        self.lock = threading.RLock()
        self.groups = []
        self.followups = []  # (command index, function of its reply, group), run after a flush
        self.unsent = None  # a sealed Batch whose reply was lost: sent again, as it is
        self.queued_at = None
        self.closed = threading.Event()
        self.timer = threading.Thread(target=self._send_late_writes, name="outbox", daemon=True)
        self.timer.start()

    def add(self, write, guard=(), note="", then=None):
        """Queue the commands `write(pipeline)` makes: all of them, or none if it raises.
        With a guard (kind, key, member), they are written only if it holds (else `note`
        is said); the Group returned tells, after the flush, whether it did.

        With `then`, the flush that sends them calls `then(reply)` with the reply of their
        last command: None if that batch was already done (its reply lost); not at all if
        the guard did not hold. (Queued with them: the timer thread may send between two
        calls.)"""
        with self.lock:
            queued = len(self.pipeline.command_stack)
            try:
                write(self.pipeline)
            except BaseException:
                del self.pipeline.command_stack[queued:]
                raise
            group = Group(tuple(guard), queued, note)
            self.groups.append(group)
            if then is not None:
                self.followups.append((len(self.pipeline.command_stack) - 1, then, group))
            if self.queued_at is None:
                self.queued_at = time.monotonic()
            return group

    def flush(self, patience=None, take=(), start=None):
        """Send what is queued, waiting for Redis while it is away. Gives up after
        `patience` seconds, or STOP_PATIENCE once stopping, dropping the writes with a
        warning; returns False then, True once sent.

        With `take` (queue key, intermediate key, job key prefix), a job is moved from
        the queue to the intermediate list after the writes: returns (id, hash fields,
        the Start written for it or None), or None if the queue was empty, instead of
        True. With `start`, a Start, the job taken is also started if it can be."""
        with self.lock:
            give_up_at = None if patience is None else time.monotonic() + patience
            for delay in retry_delays():
                try:
                    sent = self._send(take, start)
                    break
                except RETRYABLE as error:
                    outage.lost(error)
                    if give_up_at is None and self.stopping.is_set():
                        give_up_at = time.monotonic() + STOP_PATIENCE
                    left = None if give_up_at is None else give_up_at - time.monotonic()
                    if left is not None and left <= 0:
                        self._drop(error)
                        return False
                    if left is None:
                        self.stopping.wait(delay)
                    else:
                        time.sleep(min(delay, left))
        for batch, reply in sent:
            self._follow_up(batch, reply)
        if take:
            return self._taken(*sent[-1])
        return True

    def _seal(self, take=(), start=None):
        """What is queued, as a Batch (the caller holds the lock); the queue starts empty."""
        self.seq += 1
        batch = Batch(self.seq, list(self.pipeline.command_stack), self.groups, self.followups, take, start)
        self.pipeline.command_stack.clear()
        self.groups, self.followups, self.queued_at = [], [], None
        return batch

    def _send(self, take=(), start=None):
        """Send the batch whose reply was lost, then what is queued (the caller holds the
        lock). Returns [(batch, reply)]; on a lost connection, what is unsent stays so."""
        sent, took = [], False
        while True:
            if self.unsent is None:
                taking = bool(take) and not took
                if not self.groups and not taking:
                    return sent
                self.unsent = self._seal(take, start) if taking else self._seal()
            batch = self.unsent
            reply = self.send_batch(self.client, [self.marker], self._arguments(batch))
            self.unsent = None
            outage.back()
            sent.append((batch, reply))
            took = took or bool(batch.take)

    def _arguments(self, batch):
        take = batch.take or ("", "", "")
        args = [batch.seq, MARKER_TTL, *take, len(batch.groups)]
        ends = [group.start for group in batch.groups[1:]] + [len(batch.commands)]
        for group, end in zip(batch.groups, ends, strict=False):
            args += [*(group.guard or ("", "", "")), end - group.start]
            for command, _options in batch.commands[group.start : end]:
                if command[0] in ("EVAL", "EVALSHA", "MULTI", "EXEC"):
                    raise ValueError(f"an outbox cannot queue {command[0]}")
                args += [len(command), *command]
        args += [len(batch.followups), *(index + 1 for index, _f, _g in batch.followups)]
        args += batch.start.arguments() if batch.start else NO_START
        return args

    def _follow_up(self, batch, reply):
        passed, error = reply[0].decode(), reply[1]
        for group, flag in zip(batch.groups, passed, strict=False):
            group.passed = flag == "1"
            if not group.passed and group.note:
                warn(group.note)
        replies = reply[5:] or [None] * len(batch.followups)  # done before: replies unknown
        for (_index, followup, group), value in zip(batch.followups, replies, strict=False):
            if group.passed:
                followup(value)
        if error:  # the rest of the batch is written: a refused write is said, not retried
            reason = error.decode(errors="replace") if isinstance(error, bytes) else error
            warn(f"Redis refused a queued write: {reason}")

    @staticmethod
    def _taken(batch, reply):
        job_id, fields, started = reply[2], reply[3], reply[4] == b"1"
        return None if job_id is None else (job_id, fields or [], batch.start if started else None)

    def _drop(self, error):
        dropped = len(self.pipeline.command_stack) + (len(self.unsent.commands) if self.unsent else 0)
        warn(f"Gave up sending {dropped} queued writes: {describe(error)}")
        self.pipeline.command_stack.clear()
        self.groups, self.followups, self.unsent, self.queued_at = [], [], None, None

    def close(self, patience=STOP_PATIENCE):
        """Send what is queued (waiting up to `patience` seconds for Redis) and stop the timer;
        the connection goes back to the pool."""
        self.closed.set()
        self.flush(patience)
        with self.lock:
            self.client.close()

    def _send_late_writes(self):
        while not self.closed.wait(FLUSH_AFTER):
            with self.lock:
                late = self.queued_at is not None and time.monotonic() - self.queued_at >= FLUSH_AFTER
                if not late:
                    continue
                try:
                    sent = self._send()
                except RETRYABLE as error:
                    outage.lost(error)  # the worker's own flush waits for Redis; try again later
                    self.queued_at = time.monotonic() + LATE_RETRY_AFTER
                    continue
                except Exception as error:  # the worker's own flush will raise it again
                    warn(f"could not send queued writes: {error!r}")
                    continue
            for batch, reply in sent:
                self._follow_up(batch, reply)
