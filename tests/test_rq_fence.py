"""Our worker leans on RQ's private names (queuing_system.workers.RQ_PRIVATE_NAMES): an RQ
release that moved one must fail here, by name, not later as a lost job."""

import datetime
import importlib
import inspect
import zlib

import fakeredis
import pytest
import rq
import rq.job
import rq.results
from rq.executions import Execution
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
    execution = Execution("an-id", job.id, connection)
    instances = {Worker.__mro__[1]: worker, type(job): job, Execution: execution}
    missing = [
        f"{owner.__name__}.{name}"
        for owner, name in RQ_PRIVATE_NAMES
        if not hasattr(owner, name) and not hasattr(instances.get(owner, owner), name)
    ]
    assert not missing, f"RQ {rq.__version__} no longer has {', '.join(missing)}: our worker needs them"


def test_every_module_where_we_replace_an_rq_function_still_uses_it():
    rq_speedups.install()
    missing = [
        f"{module} no longer uses {name}"
        for name, (ours, modules) in rq_speedups.PATCHES.items()
        for module in modules
        if getattr(importlib.import_module(module), name, None) is not ours
    ]
    assert not missing, f"RQ {rq.__version__}: {'; '.join(missing)}"


def test_the_kept_serializer_check_answers_as_rqs_own():
    for serializer in (None, JSONSerializer, "rq.serializers.JSONSerializer", "json", JSONSerializer):
        assert rq_speedups.resolve_serializer(serializer) is rq_speedups.RQ_RESOLVE_SERIALIZER(serializer)
    for not_one in (object(), "builtins.len"):
        with pytest.raises((NotImplementedError, ValueError, AttributeError)):
            rq_speedups.resolve_serializer(not_one)


UTC = datetime.timezone.utc
MOMENTS = [
    datetime.datetime(2026, 11, 24, 3, 13, 11, 434102, tzinfo=UTC),
    datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microseconds
    datetime.datetime(2026, 1, 2, 3, 4, 5, 6),  # naive
    datetime.datetime(2026, 1, 2, 23, 4, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))),
    datetime.datetime(999, 12, 31, 0, 0, 0, 1, tzinfo=UTC),  # not padded by strftime
    datetime.datetime.min,
    datetime.datetime.max,
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_our_timestamps_are_written_as_rqs_own(moment):
    assert rq_speedups.utcformat(moment) == rq_speedups.RQ_UTCFORMAT(moment)


TEXTS = [
    "2026-11-24T03:13:11.434102Z",
    "2026-11-24T03:13:11Z",  # RQ's older format
    "2026-11-24T03:13:11.4341Z",  # fewer digits: RQ reads them, as microseconds
    "2026-13-24T03:13:11.434102Z",
    "2026-02-30T03:13:11.434102Z",
    "2026-11-24T03:13:60.434102Z",
    "2026-11-24 03:13:11.434102Z",
    "2026-11-24T03:13:11.434102+00:00",
    "2026-11-24T03:13:11.434102",
    "\u0662026-11-24T03:13:11.434102Z",  # a digit that is not ASCII
    "",
    "garbage",
]


@pytest.mark.parametrize("text", TEXTS)
def test_our_timestamps_are_read_as_rqs_own(text):
    try:
        expected = rq_speedups.RQ_UTCPARSE(text)
    except ValueError:
        with pytest.raises(ValueError):
            rq_speedups.utcparse(text)
        return
    parsed = rq_speedups.utcparse(text)
    assert parsed == expected and parsed.tzinfo is expected.tzinfo is UTC


@pytest.mark.parametrize("timeout", [None, 0, 20, -1, True, 20.5, "20", "2m", "1h", "x", "", [1]], ids=repr)
def test_our_timeouts_are_read_as_rqs_own(timeout):
    def answer(parse):
        try:
            return "answers", parse(timeout)
        except Exception as error:  # noqa: BLE001 - which error is part of the answer
            return "raises", type(error)

    assert answer(rq_speedups.parse_timeout) == answer(rq_speedups.RQ_PARSE_TIMEOUT)


def test_rq_still_compresses_job_data_and_failures_with_zlib_compress():
    for function, call in [
        (rq.job.Job.to_dict, "zlib.compress(self.data)"),
        (rq.results.Result.serialize, "zlib.compress(self.exc_string"),
    ]:
        assert call in inspect.getsource(function), (
            f"RQ {rq.__version__}: {function.__qualname__} no longer calls {call}"
        )


TEXTS = [
    "queuing_system.jobs.JobFailed: Phone number 4153518780 is blacklisted\n",
    "z" * 201,  # the job's data is then 257 bytes, just over what is stored uncompressed
    "é" * 1500,
    "x" * 70000,
    "",
]
TEXT_IDS = ["a line", "just compressed", "non-ascii, under 4 KB", "over 4 KB", "empty"]


@pytest.mark.parametrize("text", TEXTS, ids=TEXT_IDS)
def test_what_we_compress_is_read_back_by_rq_and_zlib(text):
    rq_speedups.install()
    connection = fakeredis.FakeRedis()
    [job] = create_jobs(job_queue("fence", connection), "tests.job_functions.record", [{"text": text}])
    assert rq.job.Job.fetch(job.id, connection=connection, serializer=JSONSerializer).args == [{"text": text}]
    rq.results.Result.create_failure(job, ttl=60, exc_string=text)
    assert rq.results.Result.fetch_latest(job).exc_string == text
    assert zlib.decompress(rq_speedups.small_compress(text.encode())) == text.encode()
