"""Lua scripts, each one step of Redis: the one Script class, and the worker's scripts
(worker/scripts/*.lua), which the job side runs too (claim_abandoned.lua, under RQ's own
worker).

A script of the worker's is its .lua file with the files its `--! include NAME` lines name (scripts/include/)
put in their place, after a table `C` of the layout's constants (layout.py, events.py), so
that each constant is stated once, in Python. Each file's header says what its KEYS and ARGV
are (tests/test_layout.py holds every script to its header). They run by EVALSHA, loaded
into Redis when it lacks them (a Redis restarted, or told SCRIPT FLUSH).
"""

import hashlib
import re
from pathlib import Path

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

CONSTANTS = {
    "JOB_PREFIX": layout.JOB_PREFIX,
    "EXECUTION_PREFIX": layout.EXECUTION_PREFIX,
    "EXECUTIONS_PREFIX": layout.EXECUTIONS_PREFIX,
    "EXECUTION_GRACE": layout.EXECUTION_GRACE,
    "FIRST_SEEN_TTL": layout.FIRST_SEEN_TTL,
    "RESULTS_KEPT": layout.RESULTS_KEPT,
    "EVENTS_KEPT": events.STREAM_MAXLEN,
    "STEP_TTL": STEP_TTL,
    "ABANDON_GRACE": ABANDON_GRACE,
    "DEFAULT_TIMEOUT": DEFAULT_TIMEOUT,
}


def lua_value(value):
    if isinstance(value, int):
        return str(value)
    if not re.fullmatch(r"[A-Za-z0-9_.:{}-]*", value):  # what RQ allows in its key prefix
        raise ValueError(f"not a constant for a script: {value!r}")
    return f"'{value}'"


def source(name):
    """The text of scripts/NAME with its includes, as Redis runs it (constants first)."""
    text = INCLUDE.sub(
        lambda match: (SCRIPTS / "include" / match.group(1)).read_text(), (SCRIPTS / name).read_text()
    )
    table = ", ".join(f"{key} = {lua_value(value)}" for key, value in CONSTANTS.items())
    return f"local C = {{{table}}}\n{text}"


class Script:
    """A Lua script, called as redis-py's Script is, with the client to run it on:
    `script(client, keys, args)`, by EVALSHA, loaded when Redis lacks it (a Redis
    restarted, or told SCRIPT FLUSH)."""

    def __init__(self, text):
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    @classmethod
    def named(cls, name):
        """scripts/NAME, with its includes and the constants (see source)."""
        return cls(source(name))

    def __call__(self, client, keys=(), args=()):
        try:
            return client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            client.script_load(self.text)
            return client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)


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
