"""Our worker leans on RQ's private names (queuing_system.workers.RQ_PRIVATE_NAMES): an RQ
release that moved one must fail here, by name, not later as a lost job."""

import importlib

import fakeredis
import pytest
import rq
from rq.serializers import JSONSerializer

from queuing_system import rq_speedups
from queuing_system.jobs import create_jobs, job_queue
from queuing_system.workers import RQ_PRIVATE_NAMES, Worker

TESTED_RELEASES = ("3.0",)  # RQ minor releases the whole suite passed on


def test_the_installed_rq_is_a_tested_release():
    release = ".".join(rq.__version__.split(".")[:2])
    assert release in TESTED_RELEASES, (
        f"RQ {rq.__version__} is installed; our worker is tested on RQ {', '.join(TESTED_RELEASES)} "
        f"only. Install a tested release (pip install -e .), or run the whole suite on this one "
        f"and add it to TESTED_RELEASES (see RQ_PRIVATE_NAMES in queuing_system/workers.py)"
    )


def test_every_private_name_we_use_is_still_there():
    connection = fakeredis.FakeRedis()
    queue = job_queue("fence", connection)
    [job] = create_jobs(queue, "tests.job_functions.record", [{}])
    worker = Worker([queue], connection=connection, serializer=JSONSerializer)
    instances = {Worker.__mro__[1]: worker, type(job): job}
    missing = [
        f"{owner.__name__}.{name}"
        for owner, name in RQ_PRIVATE_NAMES
        if not hasattr(owner, name) and not hasattr(instances.get(owner, owner), name)
    ]
    assert not missing, f"RQ {rq.__version__} no longer has {', '.join(missing)}: our worker needs them"


def test_every_module_whose_serializer_check_we_keep_still_makes_it():
    rq_speedups.install()
    missing = [
        name
        for name in rq_speedups.PATCHED_MODULES
        if getattr(importlib.import_module(name), "resolve_serializer", None)
        is not rq_speedups.resolve_serializer
    ]
    assert not missing, (
        f"RQ {rq.__version__}: {', '.join(missing)} no longer resolve serializers by that name"
    )


def test_the_kept_serializer_check_answers_as_rqs_own():
    for serializer in (None, JSONSerializer, "rq.serializers.JSONSerializer", "json", JSONSerializer):
        assert rq_speedups.resolve_serializer(serializer) is rq_speedups.RQ_RESOLVE_SERIALIZER(serializer)
    for not_one in (object(), "builtins.len"):
        with pytest.raises((NotImplementedError, ValueError, AttributeError)):
            rq_speedups.resolve_serializer(not_one)
