"""Tasks 6 and 7: one notification job, created and processed in separate processes."""

import importlib
import signal
import subprocess
import sys

from rq import Queue
from rq.serializers import JSONSerializer

from queuing_system.grader.expected import task6_creator, task7_processor
from queuing_system.grader.harness import (
    creator_quiet,
    processing,
    reading_events,
    rq_worker_command,
    script_env,
    scripts_dir,
    wait_for,
)
from queuing_system.jobs import job_queue

ROOT = scripts_dir()  # the checkout: conftest.py points the harness at it

processor = importlib.import_module("6_job_processor")
QUEUE = "push_notification_code"


def test_process_sends_the_notification_of_the_job_data(capsys):
    processor.process({"phoneNumber": "4153518780", "message": "hi"})
    assert capsys.readouterr().out == "Sending notification to 4153518780, with message: hi\n"


def test_processor_first_then_creator(redis_url, scripts):
    worker = scripts("6_job_processor.py", redis_url)
    creator = scripts("6_job_creator.py", redis_url)
    assert creator.wait() == 0
    assert creator.output == task6_creator(1)
    assert worker.next_line() == task7_processor()[0]
    assert worker.stop() == 0
    assert worker.output == task7_processor()
    assert creator_quiet(creator.stderr)
    assert worker.stderr == processing(QUEUE, 1)


def test_creator_first_waits_for_a_processor_started_later(redis_url, scripts, redis_binary):
    creator = scripts("6_job_creator.py", redis_url)
    assert creator.next_line() == "Notification job created: 1"
    wait_for(reading_events(redis_binary))  # the creator waits; the job sits in the queue
    assert creator.running()
    worker = scripts("6_job_processor.py", redis_url)
    assert creator.wait() == 0
    assert creator.output == task6_creator(1)
    assert worker.stop() == 0
    assert worker.output == task7_processor()


def test_ids_go_up_run_after_run(redis_url, scripts):
    worker = scripts("6_job_processor.py", redis_url)
    for job_id in (1, 2):
        creator = scripts("6_job_creator.py", redis_url)
        assert creator.wait() == 0
        assert creator.output == task6_creator(job_id)
    assert worker.stop() == 0


def test_ctrl_c_on_a_waiting_creator_leaves_the_job_queued(redis_url, scripts, redis_binary):
    creator = scripts("6_job_creator.py", redis_url)
    assert creator.next_line() == "Notification job created: 1"
    assert creator.stop(signal.SIGINT) == 130
    assert creator.stderr == ""
    assert job_queue(QUEUE, redis_binary).job_ids == ["1"]


def test_a_stock_rq_worker_processes_the_job_and_rq_info_shows_the_queue(redis_url, scripts):
    creator = scripts("6_job_creator.py", redis_url)
    assert creator.next_line() == "Notification job created: 1"
    info = subprocess.run(
        [sys.executable, "-m", "rq.cli", "info", "--url", redis_url, "--only-queues", "--raw"],
        cwd=ROOT,
        env=script_env(redis_url),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert f"queue {QUEUE} 1" in info.stdout
    worker = subprocess.run(
        rq_worker_command(redis_url, QUEUE, burst=True),
        cwd=ROOT,
        env=script_env(redis_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr
    assert task7_processor()[0] in worker.stdout
    assert creator.wait() == 0
    assert creator.output == task6_creator(1)


def test_rq_info_with_an_interval_shows_the_queue_length_every_second(redis_url, scripts):
    creator = scripts("6_job_creator.py", redis_url)
    assert creator.next_line() == "Notification job created: 1"
    command = [sys.executable, "-m", "rq.cli", "info", "--url", redis_url, "--only-queues", "--interval", "1"]
    env = script_env(redis_url, PYTHONUNBUFFERED="1")  # each redraw as it is made
    watch = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        views = []
        for line in watch.stdout:  # each redraw ends with its total
            views.append(line)
            if sum("jobs total" in line for line in views) == 2:
                break
        assert sum(f"{QUEUE} " in line and " 1" in line for line in views) >= 2
    finally:
        watch.kill()
        watch.wait()


def test_queued_payload_is_json(redis_url, scripts, redis_binary):
    creator = scripts("6_job_creator.py", redis_url)
    creator.next_line()
    job = Queue(QUEUE, connection=redis_binary, serializer=JSONSerializer).jobs[0]
    assert job.args == [{"phoneNumber": "4153518780", "message": "This is the code to verify your account"}]
    creator.stop()
