"""The event stream: a follower too far behind still hears every outcome."""

import threading
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import fakeredis
import pytest
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from queuing_system.events import CALLBACKS, created_stamp, stream_key
from queuing_system.follower import READ_BLOCK_MS, EventFollower
from queuing_system.grader.harness import wait_for
from queuing_system.jobs import create_jobs, job_queue
from queuing_system.reporter import JobReporter
from queuing_system.worker.job import AllowlistJob
from queuing_system.worker.pool import drain

QUEUE = "push_notification_code_2"
PROCESS = "7_job_processor.process"


def notification(phone_number):
    return {"phoneNumber": phone_number, "message": "This is the code 4321 to verify your account"}


def test_outcomes_trimmed_before_they_were_read_come_from_the_jobs_status(redis_binary, capsys):
    queue = job_queue(QUEUE, redis_binary)
    follower = EventFollower(redis_binary, QUEUE)
    jobs = create_jobs(queue, PROCESS, [notification("4153518743"), notification("4153518780")])
    drain({QUEUE: PROCESS}, redis_binary)
    redis_binary.xtrim(stream_key(QUEUE), maxlen=0)  # as MAXLEN does to a reader far behind

    outcomes = [(event.job_id, event.kind, event.error) for event in follower.follow(job.id for job in jobs)]

    assert sorted(outcomes) == [
        (jobs[0].id, "completed", ""),
        (jobs[1].id, "failed", "Phone number 4153518780 is blacklisted"),
    ]
    assert "2 job outcomes were trimmed from the event stream" in capsys.readouterr().err


def test_a_follower_hears_each_outcome_once_when_the_status_check_races_the_event(redis_binary):
    queue = job_queue(QUEUE, redis_binary)
    follower = EventFollower(redis_binary, QUEUE)
    [job] = create_jobs(queue, PROCESS, [notification("4153518743")])
    drain({QUEUE: PROCESS}, redis_binary)  # ended, and its events are all still in the stream

    events = follower.recover({job.id})  # the check finds it ended: the stream is read first

    heard = [(event.kind, event.progress) for event in events]
    assert heard == [("progress", 0), ("progress", 50), ("completed", 0)]


def test_a_reporter_stops_at_once_even_while_blocked_reading_and_reports_nothing_after():
    connection = fakeredis.FakeRedis()
    heard = []
    reporter = JobReporter(connection, QUEUE, heard.append)
    [job] = create_jobs(job_queue(QUEUE, connection), PROCESS, [notification("4153518743")])
    reporter.watch([job.id])
    wait_for(lambda: reporter.thread.is_alive())
    started = time.monotonic()
    reporter.stop()
    assert time.monotonic() - started < READ_BLOCK_MS / 1000 / 2  # not a whole blocking read
    drain({QUEUE: PROCESS}, connection)  # its events come after the stop
    reporter.thread.join(READ_BLOCK_MS / 1000 + 5)
    assert not reporter.thread.is_alive()
    assert heard == []


class Stop(Exception):
    """What a signal handler raises in the main thread (SIGTERM's Terminated, Ctrl-C's
    KeyboardInterrupt)."""


def test_a_stop_raised_as_a_reporter_waits_leaves_it_cleanly():
    """A signal's exception can land just after a Condition's wait has let go of its lock;
    leaving the `with` then failed with "cannot release un-acquired lock" instead of the
    stop (a traceback in CI for 8_job.py on SIGTERM). Here every Condition's letting go
    raises, as the signal did."""
    connection = fakeredis.FakeRedis()
    heard = []
    reporter = JobReporter(connection, QUEUE, heard.append)
    [job] = create_jobs(job_queue(QUEUE, connection), PROCESS, [notification("4153518743")])
    reporter.watch([job.id])
    release = reporter.changed._release_save

    def let_go_then_stop():
        release()
        raise Stop

    reporter.changed._release_save = let_go_then_stop
    outcome = threading.Timer(0.5, EventFollower.report_success, (job, connection, None))  # while it waits
    outcome.start()
    try:
        reporter.wait()  # returns once the job's outcome is heard
    finally:
        outcome.join()
        reporter.stop()
    assert [event.kind for event in heard][-1] == "completed"


@pytest.mark.parametrize(
    "fields",
    [
        {"job": "1", "event": "progress", "progress": "33.3"},
        {"job": "1", "event": "progress", "progress": "lots"},
        {"job": "1", "event": "progress", "progress": "-5"},
        {"job": "1", "event": "exploded"},
        {"event": "completed"},
        {"job": "1"},
        {"job": b"\xff", "event": "completed"},
        {b"\xfe": "x", "job": "1", "event": "completed"},
        {"job": "1", "event": "completed", "before": "0 fifty"},
        {"job": "1", "event": "completed", "before": "0 150"},
        {"job": "1", "event": "completed", "before": b"\xff"},
    ],
)
def test_a_follower_skips_an_entry_it_cannot_read_says_so_once_and_goes_on(redis_binary, capsys, fields):
    queue = job_queue(QUEUE, redis_binary)
    follower = EventFollower(redis_binary, QUEUE)
    [job] = create_jobs(queue, PROCESS, [notification("4153518743")])
    for _ in range(2):
        redis_binary.xadd(stream_key(QUEUE), fields)
    drain({QUEUE: PROCESS}, redis_binary)
    heard = [(event.kind, event.progress) for event in follower.follow([job.id])]
    assert heard == [("progress", 0), ("progress", 50), ("completed", 0)]
    assert capsys.readouterr().err.count("skipped an unreadable entry") == 1


def test_progress_is_a_whole_percentage_as_in_kue(redis_binary):
    from rq.job import Job

    from queuing_system.progress import report_progress

    queue = job_queue(QUEUE, redis_binary)
    follower = EventFollower(redis_binary, QUEUE)
    [job] = create_jobs(queue, PROCESS, [notification("4153518743")])
    job = Job.fetch(job.id, connection=redis_binary)
    for percent in (100 / 3, 250, -1):
        report_progress(job, percent)
    assert [event.progress for event in follower.read()] == [33, 100, 0]


def test_each_jobs_created_stamp_is_its_own_when_said_again():
    first = datetime(2026, 11, 24, 6, 30, 0, 123456, tzinfo=timezone.utc)
    second = first + timedelta(microseconds=1)
    stamps = [created_stamp(SimpleNamespace(created_at=moment)) for moment in (first, first, second, first)]
    assert stamps == [
        "2026-11-24T06:30:00.123456Z",
        "2026-11-24T06:30:00.123456Z",
        "2026-11-24T06:30:00.123457Z",
        "2026-11-24T06:30:00.123456Z",
    ]


def test_a_jobs_progress_goes_with_its_outcome_in_one_entry_and_is_heard_in_order(redis_binary):
    queue = job_queue(QUEUE, redis_binary)
    follower = EventFollower(redis_binary, QUEUE)
    jobs = create_jobs(queue, PROCESS, [notification("4153518743"), notification("4153518780")])
    drain({QUEUE: PROCESS}, redis_binary)
    # One XADD a job: its progress (0, then 50 for the one sent) rides in its outcome's entry.
    entries = redis_binary.xrange(stream_key(QUEUE))
    assert [(fields[b"event"], fields[b"before"]) for _id, fields in entries] == [
        (b"completed", b"0 50"),
        (b"failed", b"0"),
    ]
    events = list(follower.follow(jobs))
    heard = [(event.job_id, event.kind, event.progress) for event in events]
    assert heard == [
        (jobs[0].id, "progress", 0),
        (jobs[0].id, "progress", 50),
        (jobs[0].id, "completed", 0),
        (jobs[1].id, "progress", 0),
        (jobs[1].id, "failed", 0),
    ]
    assert {event.created for event in events} == {created_stamp(job) for job in jobs}  # one batch


def test_an_entry_written_by_rqs_own_worker_is_one_event():
    from queuing_system.events import entry_events

    fields = {b"job": b"7", b"event": b"progress", b"created": b"", b"progress": b"50"}
    assert [(event.kind, event.progress) for event in entry_events(fields)] == [("progress", 50)]


def test_the_callbacks_jobs_name_are_where_events_says_our_worker_finds_them():
    """Our worker writes the event of a job naming these callbacks instead of calling them;
    RQ's own worker finds them by that name. A JobReporter's are its follower's."""
    from rq import Callback
    from rq.utils import import_attribute

    from queuing_system.events import CALLBACKS

    for kind in ("success", "failure"):
        callback = getattr(EventFollower, f"report_{kind}")
        assert Callback(callback).name == CALLBACKS[kind]
        assert import_attribute(CALLBACKS[kind]) is callback
        assert Callback(getattr(JobReporter, f"report_{kind}")).name == CALLBACKS[kind]


def run_with_rqs_own_worker(queue, job_class=None):
    """As QUEUING_WORKER=rq, or `rq worker [--job-class ...]`, does: RQ's SimpleWorker."""
    options = {} if job_class is None else {"job_class": job_class}
    SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer, **options).work(burst=True)


@pytest.mark.parametrize(
    ("module", "worker"),
    [("events", "ours"), ("events", "rq --job-class"), ("callbacks", "rq")],
)
def test_a_job_naming_its_callbacks_by_an_old_path_or_todays_ends_heard(redis_binary, module, worker):
    """A job saved before the callbacks moved names their old path: our worker, or RQ's own
    with an AllowlistJob, reads it as their path now; its creator hears how it ended. (RQ's
    own with its own Job imports what the job names: the path now only, the last case.)"""
    queue = job_queue(QUEUE, redis_binary)
    follower = EventFollower(redis_binary, QUEUE)
    jobs = create_jobs(queue, PROCESS, [notification("4153518743"), notification("4153518780")])
    for job in jobs:
        redis_binary.hset(
            job.key,
            mapping={
                "success_callback_name": f"queuing_system.{module}.report_success",
                "failure_callback_name": f"queuing_system.{module}.report_failure",
            },
        )
    if worker == "ours":
        drain({QUEUE: PROCESS}, redis_binary)
    elif worker == "rq":
        run_with_rqs_own_worker(queue)
    else:
        run_with_rqs_own_worker(queue, AllowlistJob.allowing({QUEUE: [PROCESS]}, CALLBACKS.values()))
    outcomes = [
        (event.job_id, event.kind, event.error) for event in follower.follow(jobs) if event.kind != "progress"
    ]
    assert outcomes == [
        (jobs[0].id, "completed", ""),
        (jobs[1].id, "failed", "Phone number 4153518780 is blacklisted"),
    ]


def test_a_reporter_prints_the_line_its_function_returns_escaped_and_nothing_for_none(capsys):
    connection = fakeredis.FakeRedis()
    reporter = JobReporter(
        connection, QUEUE, lambda event: event.line("Odd\u202eline") if event.kind != "progress" else None
    )
    [job] = create_jobs(job_queue(QUEUE, connection), PROCESS, [notification("4153518743")])
    reporter.watch([job.id])
    drain({QUEUE: PROCESS}, connection)
    reporter.wait()
    reporter.stop()
    reported = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Odd")]
    assert reported == [f"Odd\\u202eline job {job.id} completed"]  # the progress events: None
