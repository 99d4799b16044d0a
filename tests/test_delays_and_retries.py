"""Delayed jobs and retries with back-off, through our processors, heard by their creators."""

import time
from datetime import timedelta

import fakeredis
import pytest
from rq import Retry, Worker
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.scheduler import RQScheduler

from queuing_system.events import ABANDONED, FAILED, RETRYING, Event, UnreadableEvent, emit, event, parse
from queuing_system.follower import EventFollower
from queuing_system.grader.expected import (
    BLACKLISTED,
    TASK8_DATA,
    creator_differences,
    job_events,
    processor_differences,
    task9_processor,
)
from queuing_system.grader.harness import STOP_WITHIN, creator_quiet, processing, run_script, wait_for
from queuing_system.jobs import NOW, ON_FAILURE, ON_SUCCESS, Timing, create_jobs, due_time, job_queue
from queuing_system.worker.set_aside import SET_ASIDE_KEY

QUEUE = "push_notification_code_2"
PROCESS = "7_job_processor.process"
LOCK_KEY = RQScheduler.get_locking_key(QUEUE)


def test_attempts_and_backoff_become_rqs_retry_doubling_each_time():
    retry = Timing(attempts=4, backoff=2).retry()
    assert (retry.max, retry.intervals) == (3, [2, 4, 8])
    assert Timing(attempts=2).retry().intervals == [0]  # again at once
    assert NOW.retry() is None and Timing(delay=5).retry() is None


def test_a_delay_is_rounded_up_to_a_whole_second_never_early():
    before = time.time()
    due = due_time(2).timestamp()
    assert due == int(due) and before + 2 <= due < time.time() + 3


def test_a_retry_is_said_with_when_and_how_many_more_times():
    assert (
        Event("3", RETRYING, error="boom", delay=2, retries_left=1).line("Notification")
        == "Notification job 3 failed, retrying in 2s, 1 retry left: boom"
    )
    assert (
        Event("3", RETRYING, error="boom", retries_left=0).line("Notification")
        == "Notification job 3 failed, retrying now, 0 retries left: boom"
    )


def test_retry_events_round_trip_and_garbage_ones_are_refused():
    connection = fakeredis.FakeRedis()
    emit(connection, QUEUE, event("7", RETRYING, error="boom", delay=4, retries_left=2))
    [(_id, fields)] = connection.xrange("queuing:events:" + QUEUE)
    assert parse(fields) == Event("7", RETRYING, error="boom", delay=4, retries_left=2)
    for bad in ({"delay": -1}, {"retries_left": "many"}):
        with pytest.raises(UnreadableEvent):
            parse({b"job": b"7", b"event": RETRYING.encode(), **bad})


@pytest.mark.parametrize("args", [["--attempts", "0"], ["--delay", "-1"], ["--backoff", "soon"]])
def test_a_creator_refuses_bad_timing_in_one_line(redis_url, args):
    run = run_script("7_job_creator.py", redis_url, *args)
    assert run.returncode == 2 and run.stdout == ""
    assert args[0] in run.stderr and "Traceback" not in run.stderr


def start_processor(scripts, redis_url, redis_binary):
    processor = scripts("7_job_processor.py", redis_url)
    wait_for(lambda: len(Worker.all(queue=job_queue(QUEUE, redis_binary))) == 2)
    return processor


def test_delayed_jobs_wait_then_run_through_the_processor(redis_url, scripts, redis_binary):
    processor = start_processor(scripts, redis_url, redis_binary)
    creator = scripts("7_job_creator.py", redis_url, "--delay", "2")
    assert creator.wait() == 0
    assert creator_differences(creator.output, TASK8_DATA, first_id=1) == []
    for job in Job.fetch_many([str(n) for n in range(1, 12)], redis_binary):
        assert job.started_at - job.created_at >= timedelta(seconds=2)
    for _ in range(9):
        processor.next_line()
    assert processor.stop() == 0
    assert processor_differences(processor.output, task9_processor()) == []
    assert creator_quiet(creator.stderr)
    assert processor.stderr == processing(QUEUE, 2)


def retried_events(job_id, phone):
    """The creator's lines for a job that fails three times, retried after 1 s then 2 s."""
    error = f"Phone number {phone} is blacklisted"
    return [
        f"Notification job {job_id} 0% complete",
        f"Notification job {job_id} failed, retrying in 1s, 1 retry left: {error}",
        f"Notification job {job_id} 0% complete",
        f"Notification job {job_id} failed, retrying in 2s, 0 retries left: {error}",
        f"Notification job {job_id} 0% complete",
        f"Notification job {job_id} failed: {error}",
    ]


def test_retried_jobs_are_heard_retrying_with_back_off_then_their_outcome(redis_url, scripts, redis_binary):
    processor = start_processor(scripts, redis_url, redis_binary)
    started = time.monotonic()
    creator = scripts("7_job_creator.py", redis_url, "--attempts", "3", "--backoff", "1")
    assert creator.wait() == 0
    assert time.monotonic() - started >= 3  # 1 s, then 2 s, between the three attempts
    lines = creator.output[11:]
    for number, (phone, _message) in enumerate(TASK8_DATA, start=1):
        mine = [line for line in lines if line.startswith(f"Notification job {number} ")]
        want = retried_events(number, phone) if phone in BLACKLISTED else job_events(str(number), phone)
        assert mine == want
    assert len(lines) == 9 * 3 + 2 * 6
    for _ in range(9):
        processor.next_line()
    assert processor.stop() == 0
    assert processor_differences(processor.output, task9_processor()) == []  # successes sent once
    assert creator_quiet(creator.stderr)
    assert processor.stderr == processing(QUEUE, 2)


def outcomes_of(follower, job_ids):
    return [
        (event.job_id, event.kind, event.error)
        for event in follower.follow(job_ids)
        if event.kind != "progress"
    ]


def test_rqs_own_enqueue_in_and_retry_run_through_our_processor(redis_url, scripts, redis_binary):
    start_processor(scripts, redis_url, redis_binary)
    queue = job_queue(QUEUE, redis_binary)
    follower = EventFollower(redis_binary, QUEUE)
    callbacks = {"on_success": ON_SUCCESS, "on_failure": ON_FAILURE}
    good = queue.enqueue_in(
        timedelta(seconds=1), PROCESS, {"phoneNumber": "4150000000", "message": "m"}, **callbacks
    )
    bad = queue.enqueue(
        PROCESS, {"phoneNumber": "4153518780", "message": "m"}, retry=Retry(max=1, interval=1), **callbacks
    )
    error = "Phone number 4153518780 is blacklisted"
    heard = outcomes_of(follower, [good.id, bad.id])
    assert [outcome for outcome in heard if outcome[0] == bad.id] == [
        (bad.id, RETRYING, error),
        (bad.id, FAILED, error),
    ]
    assert [outcome for outcome in heard if outcome[0] == good.id] == [(good.id, "completed", "")]


def test_a_stopped_processor_hands_the_scheduling_to_the_next_at_once(redis_url, scripts, redis_binary):
    first = start_processor(scripts, redis_url, redis_binary)
    wait_for(lambda: redis_binary.exists(LOCK_KEY))
    creator = scripts("7_job_creator.py", redis_url, "--delay", "3")
    for _ in TASK8_DATA:
        creator.next_line()
    stopping = time.monotonic()
    assert first.stop() == 0
    assert time.monotonic() - stopping < STOP_WITHIN
    assert not redis_binary.exists(LOCK_KEY)  # given up, not left to expire in a minute
    second = start_processor(scripts, redis_url, redis_binary)
    assert creator.wait() == 0  # within TIMEOUT (30 s), far less than the lock's 61 s
    assert creator_differences(creator.output, TASK8_DATA, first_id=1) == []
    for _ in range(9):
        second.next_line()
    assert second.stop() == 0
    assert first.output == [] and processor_differences(second.output, task9_processor()) == []


def test_due_entries_no_worker_can_run_are_set_aside_and_the_rest_run(redis_url, scripts, redis_binary):
    processor = start_processor(scripts, redis_url, redis_binary)
    queue = job_queue(QUEUE, redis_binary)
    creator = scripts("7_job_creator.py", redis_url, "--delay", "2")
    for _ in TASK8_DATA:
        creator.next_line()
    registry = queue.scheduled_job_registry.key
    redis_binary.hset(Job.key_for("unreadable"), mapping={"created_at": "yesterday", "data": "?"})
    # "3:again" would have RQ enqueue job 3 at every look (it reads the id before the colon)
    garbage = {b"\xff\xfe not text": 0, b"3:again": 0, b"unreadable": 0, b"no-such-job": 0}
    redis_binary.zadd(registry, garbage)
    assert creator.wait() == 0
    assert creator_differences(creator.output, TASK8_DATA, first_id=1) == []
    for _ in range(9):
        processor.next_line()
    assert processor.stop() == 0
    assert processor_differences(processor.output, task9_processor()) == []  # job 3 sent once
    assert sorted(redis_binary.lrange(SET_ASIDE_KEY.format(queue=QUEUE), 0, -1)) == sorted(
        [b"\xff\xfe not text", b"3:again", b"unreadable"]
    )
    assert redis_binary.zcard(registry) == 0
    said = processor.stderr.splitlines()[1:]  # after the processor's first line
    assert len(said) == 3 and all("set aside scheduled entry" in line for line in said)


def test_a_job_abandoned_with_retries_left_is_heard_retrying(redis_binary):
    queue = job_queue(QUEUE, redis_binary)
    [job] = create_jobs(queue, PROCESS, [{"phoneNumber": "4150000000", "message": "m"}], Timing(attempts=2))
    redis_binary.zadd(queue.started_job_registry.key, {f"{job.id}:execution": 1})  # expired
    follower = EventFollower(redis_binary, QUEUE)
    EventFollower.report_failure(job, redis_binary, AbandonedJobError, AbandonedJobError(), None)
    assert follower.read(block=False) == [Event(job.id, RETRYING, error=ABANDONED, retries_left=0)]
