"""Where RQ spends for nothing, kept from doing it again: its serializer check.

RQ resolves the serializer each time it makes a Job, a Result or a registry: twice per job
created, five times per job run. The check is `isinstance(serializer, Serializer)` on a
runtime-checkable Protocol, which Python 3.11 answers by listing the protocol's members
every time: 17 us, a fifth of the CPU of creating a job. For a given serializer the answer
never changes, so it is kept after the first.

It touches RQ's modules, and no other: the name `resolve_serializer` in each module of
PATCHED_MODULES, replaced by `resolve_serializer` below. tests/test_rq_fence.py fails,
naming the module, on an RQ where one of them no longer has that name, and checks that
the kept answer is RQ's own.
"""

import functools
import importlib

from rq import serializers

PATCHED_MODULES = ("rq.job", "rq.registry", "rq.results", "rq.queue", "rq.worker.base", "rq.scheduler")
RQ_RESOLVE_SERIALIZER = serializers.resolve_serializer


@functools.cache
def resolved(serializer):
    return RQ_RESOLVE_SERIALIZER(serializer)


def resolve_serializer(serializer=None):
    """RQ's resolve_serializer, its answer kept for each serializer it accepted."""
    try:
        return resolved(serializer)
    except TypeError:  # an unhashable serializer: asked every time, as RQ does
        return RQ_RESOLVE_SERIALIZER(serializer)


@functools.cache  # once per process: every job_queue() asks
def install():
    """Put the kept answers in RQ's modules."""
    for name in PATCHED_MODULES:
        module = importlib.import_module(name)
        if module.resolve_serializer is RQ_RESOLVE_SERIALIZER:
            module.resolve_serializer = resolve_serializer
