"""Tasks 8 and 9: eleven jobs, progress and failure events, two jobs at a time."""

import importlib
import json
import signal
import subprocess
import sys
import zlib

import fakeredis
import pytest
from rq import Worker
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

from queuing_system.follower import EventFollower
from queuing_system.grader.expected import (
    TASK8_DATA,
    creator_differences,
    processor_differences,
    task9_processor,
)
from queuing_system.grader.harness import creator_quiet, processing, reading_events, wait_for
from queuing_system.jobs import create_job, create_jobs, job_queue
from queuing_system.rq_job import JobFailed

processor = importlib.import_module("7_job_processor")
QUEUE = "push_notification_code_2"


@pytest.fixture
def job(fake_binary):
    """A job as the worker sees it while running it."""
    return create_job(job_queue(QUEUE, fake_binary), "7_job_processor.process", {})


@pytest.fixture
def fake_binary():
    return fakeredis.FakeRedis()


def events_of(connection, position="0-0"):
    follower = EventFollower(connection, QUEUE)
    follower.position = position
    return [(event.kind, event.progress, event.error) for event in follower.read()]


def test_a_blacklisted_number_fails_with_the_exact_message_after_progress_0(job, fake_binary, capsys):
    with pytest.raises(JobFailed) as raised:
        processor.send_notification("4153518780", "hello", job)
    assert str(raised.value) == "Phone number 4153518780 is blacklisted"
    assert job.get_meta(refresh=True)["progress"] == 0
    assert events_of(fake_binary) == [("progress", 0, "")]
    assert capsys.readouterr().out == ""


def test_another_number_reports_0_then_50_then_sends(job, fake_binary, capsys):
    processor.send_notification("4153518743", "hello", job)
    assert job.get_meta(refresh=True)["progress"] == 50
    assert events_of(fake_binary) == [("progress", 0, ""), ("progress", 50, "")]
    assert capsys.readouterr().out == "Sending notification to 4153518743, with message: hello\n"


def payload_is_json(connection, job_id):
    return json.loads(zlib.decompress(connection.hget(f"rq:job:{job_id}", "data")))


def check_run(creator, worker, workers=2):
    assert creator.wait() == 0
    assert creator_differences(creator.output, TASK8_DATA, first_id=1) == []
    for _ in range(9):
        worker.next_line()
    assert worker.stop() == 0
    assert processor_differences(worker.output, task9_processor()) == []
    assert creator_quiet(creator.stderr)
    assert worker.stderr == processing(QUEUE, workers)


def test_processor_first_then_creator_prints_the_spec_lines(redis_url, scripts, redis_binary):
    worker = scripts("7_job_processor.py", redis_url)
    wait_for(lambda: len(Worker.all(queue=job_queue(QUEUE, redis_binary))) == 2)
    creator = scripts("7_job_creator.py", redis_url)
    check_run(creator, worker)
    for job_id in range(1, 12):
        assert payload_is_json(redis_binary, job_id)[0] == "7_job_processor.process"


def test_creator_first_then_processor_loses_no_event(redis_url, scripts, redis_binary):
    creator = scripts("7_job_creator.py", redis_url)
    for _ in range(11):
        creator.next_line()
    wait_for(reading_events(redis_binary))  # the creator waits for events before any exist
    worker = scripts("7_job_processor.py", redis_url)
    check_run(creator, worker)


def test_the_processor_runs_two_workers_on_the_queue(redis_url, scripts, redis_binary):
    worker = scripts("7_job_processor.py", redis_url)
    queue = job_queue(QUEUE, redis_binary)
    wait_for(lambda: len(Worker.all(queue=queue)) == 2)
    assert worker.stop() == 0
    wait_for(lambda: len(Worker.all(queue=queue)) == 0)


@pytest.mark.parametrize("args, env", [(["--workers", "4"], {}), ([], {"WORKERS": "4"})])
def test_the_processor_runs_as_many_workers_as_asked(redis_url, scripts, redis_binary, args, env):
    worker = scripts("7_job_processor.py", redis_url, *args, **env)
    wait_for(lambda: len(Worker.all(queue=job_queue(QUEUE, redis_binary))) == 4)
    check_run(scripts("7_job_creator.py", redis_url), worker, workers=4)


def test_processors_on_several_machines_share_the_queue_each_job_run_once(redis_url, scripts, redis_binary):
    machines = [scripts("7_job_processor.py", redis_url, "--workers", "2") for _ in range(3)]
    wait_for(lambda: len(Worker.all(queue=job_queue(QUEUE, redis_binary))) == 6)
    creator = scripts("7_job_creator.py", redis_url)
    assert creator.wait() == 0
    assert creator_differences(creator.output, TASK8_DATA, first_id=1) == []
    for machine in machines:
        assert machine.stop() == 0
        assert machine.stderr == processing(QUEUE, 2)
    sent = sorted(line for machine in machines for line in machine.output)
    assert sent == sorted(task9_processor())  # each notification sent once, by one of them


def test_failed_jobs_stay_inspectable_and_rq_requeue_runs_them_again(redis_url, scripts, redis_binary):
    worker = scripts("7_job_processor.py", redis_url)
    queue = job_queue(QUEUE, redis_binary)
    wait_for(lambda: len(Worker.all(queue=queue)) == 2)
    assert scripts("7_job_creator.py", redis_url).wait() == 0
    failed = FailedJobRegistry(queue=queue)
    assert sorted(failed.get_job_ids()) == ["1", "2"]  # the blacklisted numbers, kept a day
    why = queue.fetch_job("1").latest_result().exc_string.strip().splitlines()[-1]
    assert why.endswith("Phone number 4153518780 is blacklisted")
    follower = EventFollower(redis_binary, QUEUE)
    requeue = ["requeue", "--all", "--queue", QUEUE, "--url", redis_url, "--serializer", "json"]
    result = subprocess.run([sys.executable, "-m", "rq.cli", *requeue], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    outcomes = [(e.job_id, e.kind, e.error) for e in follower.follow(["1", "2"]) if e.kind != "progress"]
    assert sorted(outcomes) == [
        ("1", "failed", "Phone number 4153518780 is blacklisted"),
        ("2", "failed", "Phone number 4153518781 is blacklisted"),
    ]
    wait_for(lambda: sorted(failed.get_job_ids()) == ["1", "2"])  # failed again, still inspectable
    assert worker.stop() == 0


BAD_COUNTS = [(["--workers", "0"], {}), (["--workers", "x"], {}), ([], {"WORKERS": "-1"})]


@pytest.mark.parametrize("args, env", BAD_COUNTS)
def test_a_bad_number_of_workers_is_refused_in_one_line(redis_url, scripts, args, env):
    worker = scripts("7_job_processor.py", redis_url, *args, **env)
    assert worker.wait() == 2
    assert worker.output == []
    assert worker.stderr.splitlines()[-1].startswith("7_job_processor.py: error: argument --workers: invalid")
    assert "Traceback" not in worker.stderr


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_stopping_mid_batch_leaves_the_rest_queued_for_the_next_processor(
    sig, code, redis_url, scripts, redis_binary
):
    total = 3000
    queue = job_queue(QUEUE, redis_binary)
    data = [{"phoneNumber": f"41500{n:05d}", "message": f"m{n}"} for n in range(total)]
    create_jobs(queue, "7_job_processor.process", data)
    finished = FinishedJobRegistry(queue=queue)
    worker = scripts("7_job_processor.py", redis_url)
    wait_for(lambda: finished.count > 0)
    assert worker.stop(sig) == code
    assert "Traceback" not in worker.stderr
    done_first = finished.count
    assert 0 < done_first < total
    assert StartedJobRegistry(queue=queue).count == 0
    assert queue.count == total - done_first
    assert len(worker.output) == done_first

    second = scripts("7_job_processor.py", redis_url)
    wait_for(lambda: finished.count == total, timeout=120)
    assert second.stop() == 0
    assert FailedJobRegistry(queue=queue).count == 0
    assert sorted(worker.output + second.output) == sorted(
        f"Sending notification to {d['phoneNumber']}, with message: {d['message']}" for d in data
    )
