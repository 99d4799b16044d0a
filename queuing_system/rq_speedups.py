"""Where RQ spends for nothing, kept from doing it again: its serializer check, its dates,
its timeouts, its compression of small data.

- RQ resolves the serializer each time it makes a Job, a Result or a registry: twice per
  job created, five times per job run. The check is `isinstance(serializer, Serializer)`
  on a runtime-checkable Protocol, which Python 3.11 answers by listing the protocol's
  members every time: 17 us, a fifth of the CPU of creating a job. For a given serializer
  the answer never changes, so it is kept after the first.
- RQ writes its timestamps with `strftime` and reads them back with `strptime`, which
  compiles a regular expression's worth of locale checks per call: 16 us to read one, two
  per job taken. Ours read and write the same text with `fromisoformat` and f-strings,
  and hand anything else (another shape, a year before 1000) to RQ's own.
- RQ checks each timeout and TTL against `numbers.Integral`, an abstract class: ours
  answers an int at once, anything else as RQ does.
- RQ compresses a job's data (when the job is saved) and a failed job's traceback (for its
  Result) with `zlib.compress`, whose 256 KB of state (a 32 KB window, hashed) is
  allocated and cleared for a hundred bytes: 60,000 instructions each time, a tenth of
  creating a job and most of what a failure added to a job's cost. Up to 4 KB, ours
  compresses with a 4 KB window and a small hash: the same zlib format, as small for such
  inputs, which any `zlib.decompress` (RQ's) reads back. Larger, zlib's own. Up to 256
  bytes (a notification job's data is 130), ours stores them in zlib's format uncompressed
  (level 0): deflating them saves a few bytes (130 to 122) for 6 us, a twentieth of
  creating a job.

It touches RQ's modules, and no other: in each module of PATCHES[name], the function
`name` is replaced by ours (rq.utils' own `utcparse` included, which its `str_to_date`
calls; for `zlib`, rq.job's and rq.results' reference to the module, by one whose
`compress` is ours). tests/test_rq_fence.py fails, naming the module, on an RQ where one
of them no longer has that name, and checks that ours answer as RQ's own.
"""

import datetime
import functools
import importlib
import re
import types
import zlib

from rq import serializers
from rq import utils as rq_utils

RQ_RESOLVE_SERIALIZER = serializers.resolve_serializer
RQ_UTCFORMAT = rq_utils.utcformat
RQ_UTCPARSE = rq_utils.utcparse
RQ_PARSE_TIMEOUT = rq_utils.parse_timeout


@functools.cache
def resolved(serializer):
    return RQ_RESOLVE_SERIALIZER(serializer)


def resolve_serializer(serializer=None):
    """RQ's resolve_serializer, its answer kept for each serializer it accepted."""
    try:
        return resolved(serializer)
    except TypeError:  # an unhashable serializer: asked every time, as RQ does
        return RQ_RESOLVE_SERIALIZER(serializer)


def utcformat(moment):
    """RQ's utcformat (`%Y-%m-%dT%H:%M:%S.%fZ`, the offset ignored), without strftime."""
    if moment.year < 1000:  # strftime does not pad those
        return RQ_UTCFORMAT(moment)
    return f"{moment.isoformat(timespec='microseconds')[:26]}Z"  # the offset cut off


RQ_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII)  # what utcformat writes
from_iso = datetime.datetime.fromisoformat


def utcparse(text):
    """RQ's utcparse: an aware UTC datetime from what utcformat wrote, without strptime."""
    if isinstance(text, str) and RQ_TIMESTAMP.fullmatch(text):
        return from_iso(f"{text[:-1]}+00:00")
    return RQ_UTCPARSE(text)


def parse_timeout(timeout):
    """RQ's parse_timeout, which asks `isinstance(timeout, numbers.Integral)` (an abstract
    class: a slow check) seven times per job created: an int is answered at once."""
    if timeout is None or type(timeout) is int:
        return timeout
    return RQ_PARSE_TIMEOUT(timeout)


SMALL_INPUT = 4096  # bytes: up to this, compressed from a window this size
TINY_INPUT = 256  # bytes: up to this, stored


def small_compress(data):
    """zlib's format, as `zlib.compress` writes it; up to SMALL_INPUT bytes, from a 4 KB
    window and a 2 KB hash instead of 256 KB of state; up to TINY_INPUT, uncompressed."""
    size = len(data)
    if size > SMALL_INPUT:
        return zlib.compress(data)
    if size > TINY_INPUT:
        compressor = zlib.compressobj(6, zlib.DEFLATED, 12, 3)  # level, method, window bits, memLevel
    else:
        compressor = zlib.compressobj(0, zlib.DEFLATED, 9, 1)  # stored: the smallest state
    return compressor.compress(data) + compressor.flush()


SMALL_ZLIB = types.SimpleNamespace(compress=small_compress, decompress=zlib.decompress, error=zlib.error)

# name: (ours, RQ's modules that use it under that name)
PATCHES = {
    "resolve_serializer": (
        resolve_serializer,
        ("rq.job", "rq.registry", "rq.results", "rq.queue", "rq.worker.base", "rq.scheduler"),
    ),
    "utcformat": (utcformat, ("rq.job", "rq.worker.base", "rq.scheduler", "rq.rate_limit")),
    "utcparse": (utcparse, ("rq.utils", "rq.worker.base", "rq.scheduler")),
    "parse_timeout": (parse_timeout, ("rq.queue", "rq.job")),
    "zlib": (SMALL_ZLIB, ("rq.job", "rq.results")),
}
RQS_OWN = {
    "resolve_serializer": RQ_RESOLVE_SERIALIZER,
    "utcformat": RQ_UTCFORMAT,
    "utcparse": RQ_UTCPARSE,
    "parse_timeout": RQ_PARSE_TIMEOUT,
    "zlib": zlib,
}


@functools.cache  # once per process: every job_queue() asks
def install():
    """Put ours in RQ's modules, where RQ's own still is."""
    for name, (ours, modules) in PATCHES.items():
        for module_name in modules:
            module = importlib.import_module(module_name)
            if getattr(module, name, None) is RQS_OWN[name]:
                setattr(module, name, ours)
