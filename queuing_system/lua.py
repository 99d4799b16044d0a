"""Lua scripts, each one step of Redis: the one Script class, and the worker's scripts
(worker/scripts/*.lua), which the job side runs too (claim_abandoned.lua, under RQ's own
worker).

A script is its .lua file with the files its `--! include NAME` lines name (scripts/include/,
each a few functions that take their keys as parameters, as BullMQ's includes do) put in
their place, and each of the layout's constants (layout.py, events.py: C.NAME in a script)
written in its own, so that each is stated once, in Python. Each file's header says what its KEYS and ARGV
are (tests/test_layout.py holds every script to its header). They run by EVALSHA, loaded
into Redis when it lacks them (a Redis restarted, or told SCRIPT FLUSH).
"""

import hashlib
import re
from pathlib import Path

import hiredis
import redis

from . import events, layout

SCRIPTS = Path(__file__).resolve().parent / "worker" / "scripts"  # the worker's transitions
INCLUDE = re.compile(r"^--! include (\S+)$", re.MULTILINE)

# Seconds a worker's step marker is kept: a step sent again after longer would be done
# twice (a worker away from Redis that long has had its jobs reported abandoned long ago).
STEP_TTL = 86_400
# Seconds past its timeout before a started job counts as abandoned (RQ's SimpleWorker
# keeps a started job for 60 s more; the death penalty ends it at its timeout).
ABANDON_GRACE = 10
DEFAULT_TIMEOUT = layout.Queue.DEFAULT_TIMEOUT  # RQ's, for a job that names none

# The layout's constants, as the scripts read them (C.NAME). Those a script gives Redis are
# text: redis.call makes a Lua number text with printf's %.17g, four times the cost of a
# command such as EXPIRE; those it computes with are numbers.
CONSTANTS = {
    "JOB_PREFIX": layout.JOB_PREFIX,
    "EXECUTION_PREFIX": layout.EXECUTION_PREFIX,
    "EXECUTIONS_PREFIX": layout.EXECUTIONS_PREFIX,
    "RESULTS_PREFIX": layout.RESULTS_PREFIX,
    "DEPENDENTS_SUFFIX": layout.DEPENDENTS_SUFFIX,
    "DEPENDENCIES_PREFIX": layout.DEPENDENCIES_PREFIX,
    "DEPENDENCIES_SUFFIX": layout.DEPENDENCIES_SUFFIX,
    "STARTED": layout.STARTED,
    "FINISHED": layout.FINISHED,
    "FAILED": layout.FAILED,
    "SCHEDULED": layout.SCHEDULED,
    "QUEUED": layout.QUEUED,
    "SUCCESSFUL_RESULT": str(layout.SUCCESSFUL_RESULT),
    "FAILED_RESULT": str(layout.FAILED_RESULT),
    "PROGRESS_EVENT": events.PROGRESS,
    "COMPLETED_EVENT": events.COMPLETED,
    "FAILED_EVENT": events.FAILED,
    "RETRYING_EVENT": events.RETRYING,
    "RESULTS_KEPT": str(layout.RESULTS_KEPT),
    "EVENTS_KEPT": str(events.STREAM_MAXLEN),
    "STEP_TTL": str(STEP_TTL),
    "FIRST_SEEN_TTL": str(layout.FIRST_SEEN_TTL),
    "EXECUTION_GRACE": layout.EXECUTION_GRACE,
    "ABANDON_GRACE": ABANDON_GRACE,
    "DEFAULT_TIMEOUT": DEFAULT_TIMEOUT,
    "SUSPENDED_KEY": layout.SUSPENDED_KEY,  # RQ's constant keys: not sent with each step
    "QUEUES_KEY": layout.QUEUES_KEY,
    "COPYING_KEY": "queuing:copying",  # ours: a copy made and renamed in one script (include/result.lua)
    "TAKEN_FIELDS": layout.TAKEN_FIELDS,  # a list: it stands for its items, in a call's arguments
    "TIMEOUT_AT": layout.TAKEN_FIELDS.index(b"timeout") + 1,  # its place among them (Lua counts from 1)
}


def lua_value(value):
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        return ", ".join(lua_value(item) for item in value)
    if isinstance(value, bytes):
        value = value.decode()
    if not re.fullmatch(r"[A-Za-z0-9_.:{}-]*", value):  # what RQ allows in its key prefix
        raise ValueError(f"not a constant for a script: {value!r}")
    return f"'{value}'"


def expanded(path, included):
    """The text of `path` with each file its include lines name put in their place, each
    once (`included`: those put in already), after the files they include in turn."""

    def include(match):
        name = match.group(1)
        if name in included:
            return ""
        included.add(name)
        return expanded(SCRIPTS / "include" / name, included)

    return INCLUDE.sub(include, path.read_text())


CONSTANT = re.compile(r"\bC\.([A-Z_]+)\b")


def source(name):
    """The text of scripts/NAME with its includes, as Redis runs it: each constant C.NAME
    written in its place (a table of them, made at each call, cost a microsecond), and
    `rcall` for redis.call (BullMQ's scripts' name for it)."""
    text = CONSTANT.sub(lambda match: lua_value(CONSTANTS[match.group(1)]), expanded(SCRIPTS / name, set()))
    return f"local rcall = redis.call\n{text}"


class Script:
    """A Lua script, called as redis-py's Script is, with the client to run it on:
    `script(client, keys, args)`, by EVALSHA, loaded when Redis lacks it (a Redis
    restarted, or told SCRIPT FLUSH). A client that sends packed commands (a worker's
    steps.StepConnection: `execute_packed`) gets the EVALSHA packed here, its script and
    keys packed once (hiredis writes each argument's length with sprintf: the same 15
    arguments at each step of a worker were a twentieth of its instructions)."""

    def __init__(self, text):
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()
        self.heads = {}  # {keys (a tuple): (how many arguments they make, packed)}

    @classmethod
    def named(cls, name):
        """scripts/NAME, with its includes and the constants (see source)."""
        return cls(source(name))

    def __call__(self, client, keys=(), args=()):
        send = getattr(client, "execute_packed", None)
        if send is None:
            command = ("EVALSHA", self.sha, len(keys), *keys, *args)

            def send(command):
                return client.execute_command(*command)
        else:
            command = self.packed(keys, args)
        try:
            return send(command)
        except redis.exceptions.NoScriptError:
            client.script_load(self.text)
            return send(command)

    def packed(self, keys, args):
        """EVALSHA of `keys` and `args`, as Redis reads it (RESP)."""
        if type(keys) is not tuple:  # a worker's are: its scripts' keys packed once each
            keys = tuple(keys)
        head = self.heads.get(keys)
        if head is None:
            packed = hiredis.pack_command(("EVALSHA", self.sha, len(keys), *keys))
            head = self.heads[keys] = (3 + len(keys), packed[packed.index(b"\n") + 1 :])
        count, prefix = head
        packed = hiredis.pack_command(tuple(args))
        return b"*%d\r\n%b%b" % (count + len(args), prefix, packed[packed.index(b"\n") + 1 :])


TAKE = Script.named("take.lua")
FINISH = Script.named("finish.lua")
FAIL = Script.named("fail.lua")
PROGRESS = Script.named("progress.lua")
ABANDON = Script.named("abandon.lua")
REQUEUE_STRANDED = Script.named("requeue_stranded.lua")
SET_ASIDE = Script.named("set_aside.lua")
SET_ASIDE_SCHEDULED = Script.named("set_aside_scheduled.lua")
MOVE_ENTRY = Script.named("move_entry.lua")
CLAIM_ABANDONED = Script.named("claim_abandoned.lua")
