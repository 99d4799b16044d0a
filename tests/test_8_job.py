"""Task 11: create_push_notifications_jobs in Kue's "test mode".

Jobs are created on fakeredis with no worker running; the tests look at exactly what is in
the queue, then empty it.
"""

import importlib
import json
import zlib

import fakeredis
import pytest

from queuing_system.grader.expected import created, job_events, sending
from queuing_system.jobs import JOB_ID_KEY, job_queue
from queuing_system.worker.pool import drain

job8 = importlib.import_module("8_job")

QUEUE = "push_notification_code_3"
JOBS = [
    {"phoneNumber": "4153518743", "message": "This is the code 4321 to verify your account"},
    {"phoneNumber": "4153538781", "message": "This is the code 4562 to verify your account"},
]


def stop_reporting():
    """Kue's test mode: nothing more is reported of the jobs made so far."""
    for reporter in job8.reporters:
        reporter.stop()
    job8.reporters.clear()


@pytest.fixture
def connection():
    return fakeredis.FakeRedis()


@pytest.fixture
def queue(connection):
    """The queue in test mode: nothing processes it; emptied after each test."""
    queue = job_queue(QUEUE, connection)
    yield queue
    stop_reporting()
    queue.empty()
    assert queue.count == 0


def test_creates_one_job_per_dict_on_push_notification_code_3(queue, capsys):
    jobs = job8.create_push_notifications_jobs(JOBS, queue)
    assert queue.name == QUEUE
    assert queue.count == 2
    assert queue.job_ids == ["1", "2"]
    assert [job.origin for job in jobs] == [QUEUE, QUEUE]
    assert [list(job.args) for job in queue.jobs] == [[JOBS[0]], [JOBS[1]]]
    assert capsys.readouterr().out == f"{created(1)}\n{created(2)}\n"


def test_ids_keep_increasing_across_calls_and_queues(queue, connection, capsys):
    job_queue("another_queue", connection).enqueue_many([])
    first = job8.create_push_notifications_jobs(JOBS[:1], queue)
    second = job8.create_push_notifications_jobs(JOBS, queue)
    assert [int(job.id) for job in first + second] == [1, 2, 3]
    assert capsys.readouterr().out == "".join(f"{created(n)}\n" for n in (1, 2, 3))


def test_uses_the_connection_of_the_queue_it_is_given(connection, capsys):
    other = fakeredis.FakeRedis()
    queue = job_queue("whatever_name", other)
    try:
        job8.create_push_notifications_jobs(JOBS[:1], queue)
        assert job_queue(QUEUE, other).count == 1
        assert job_queue(QUEUE, connection).count == 0
    finally:
        stop_reporting()
        job_queue(QUEUE, other).empty()


def test_an_empty_list_creates_nothing_and_prints_nothing(queue, capsys):
    assert job8.create_push_notifications_jobs([], queue) == []
    assert queue.count == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "not_a_list",
    [None, {}, {"phoneNumber": "4153518743", "message": "x"}, "jobs", 42, 1.5, True, (), tuple(JOBS)],
)
def test_a_non_list_raises_jobs_is_not_an_array_and_creates_nothing(not_a_list, queue, connection, capsys):
    with pytest.raises(Exception) as raised:
        job8.create_push_notifications_jobs(not_a_list, queue)
    assert str(raised.value) == "Jobs is not an array"
    assert queue.count == 0
    assert connection.get(JOB_ID_KEY) is None
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "bad_batch",
    [
        [JOBS[0], "not a dict"],
        [JOBS[0], None],
        [JOBS[0], {"message": "no phone"}],
        [JOBS[0], {"phoneNumber": 4153518743, "message": "number, not text"}],
        [JOBS[0], {"phoneNumber": "4153518743"}],
    ],
)
def test_a_bad_entry_refuses_the_whole_batch(bad_batch, queue, connection, capsys):
    with pytest.raises((TypeError, ValueError), match=r"^Job 1 "):
        job8.create_push_notifications_jobs(bad_batch, queue)
    assert queue.count == 0
    assert connection.get(JOB_ID_KEY) is None
    assert capsys.readouterr().out == ""


def test_payloads_are_json_never_pickle(queue, connection):
    job8.create_push_notifications_jobs(JOBS, queue)
    for job_id in queue.job_ids:
        raw = zlib.decompress(connection.hget(f"rq:job:{job_id}", "data"))
        assert json.loads(raw)[2] == [JOBS[int(job_id) - 1]]


def test_events_from_a_worker_are_printed_in_the_task_8_format(queue, connection, capsys):
    blacklisted = {"phoneNumber": "4153518780", "message": "This is the code 1234 to verify your account"}
    job8.create_push_notifications_jobs([blacklisted, JOBS[0]], queue)
    drain({QUEUE: job8.PROCESS}, connection)
    for reporter in job8.reporters:
        reporter.wait()
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [created(1), created(2)]
    assert sending(JOBS[0]["phoneNumber"], JOBS[0]["message"]) in lines
    assert [line for line in lines if line.startswith("Notification job 1 ")] == job_events("1", "4153518780")
    assert [line for line in lines if line.startswith("Notification job 2 ")] == job_events(
        "2", JOBS[0]["phoneNumber"]
    )
    assert len(lines) == 2 + 1 + 2 + 3
