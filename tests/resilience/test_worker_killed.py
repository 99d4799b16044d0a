"""A processor killed with SIGKILL mid-batch: nothing lost, nothing silently run twice."""

import os
import signal
import subprocess
import sys
import time

from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

from queuing_system.events import ABANDONED, COMPLETED, FAILED
from queuing_system.follower import EventFollower
from queuing_system.grader.harness import script_env, scripts_dir, wait_for
from queuing_system.jobs import create_jobs, job_queue

ROOT = scripts_dir()  # the checkout: conftest.py points the harness at it

QUEUE = "push_notification_code_2"
TOTAL = 1000


def start_processor(url, output):
    # Its own session, so the whole group (supervisor and workers) can be killed at once.
    return subprocess.Popen(
        [sys.executable, "7_job_processor.py"],
        cwd=ROOT,
        env=script_env(url),
        stdout=output,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_sigkill_mid_batch_then_a_new_processor_every_job_gets_one_outcome(redis_url, redis_binary, tmp_path):
    queue = job_queue(QUEUE, redis_binary)
    follower = EventFollower(redis_binary, QUEUE)
    data = [{"phoneNumber": f"4159{n:06d}", "message": f"code {n}"} for n in range(TOTAL)]
    data[7]["phoneNumber"] = "4153518780"  # one blacklisted, as in the spec's batch
    jobs = create_jobs(queue, "7_job_processor.process", data)
    finished = FinishedJobRegistry(queue=queue)

    first_out = open(tmp_path / "first.txt", "w")
    first = start_processor(redis_url, first_out)
    wait_for(lambda: finished.count >= 100)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = time.monotonic()
    assert finished.count < TOTAL, "the batch ended before the kill: make it bigger"

    second_out = open(tmp_path / "second.txt", "w")
    second = start_processor(redis_url, second_out)
    try:
        outcomes = {}
        for event in follower.follow(job.id for job in jobs):
            if event.kind in (COMPLETED, FAILED):
                assert event.job_id not in outcomes, f"job {event.job_id} ended twice"
                outcomes[event.job_id] = event
            assert time.monotonic() - killed_at < 60, "not every job ended within 60 s"
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(30)
    first_out.close()
    second_out.close()

    assert len(outcomes) == TOTAL
    # An abandoned job's event is sent, and its execution claimed out of the started
    # registry, by the callback RQ calls before it writes the failure (EventFollower.report_failure): the
    # failed registry has it a moment after the event, once that write is done.
    wait_for(lambda: finished.count + FailedJobRegistry(queue=queue).count == TOTAL, timeout=5)
    assert StartedJobRegistry(queue=queue).count == 0
    failed = {job_id: event.error for job_id, event in outcomes.items() if event.kind == FAILED}
    abandoned = [job_id for job_id, error in failed.items() if error == ABANDONED]
    assert failed.pop(jobs[7].id) == "Phone number 4153518780 is blacklisted"
    assert set(failed) == set(abandoned)
    assert len(abandoned) <= 2  # at most the job in hand of each of the two workers

    sent = (tmp_path / "first.txt").read_text().splitlines() + (
        tmp_path / "second.txt"
    ).read_text().splitlines()
    assert len(sent) == len(set(sent)), "a notification was sent twice"
    completed = {job_id for job_id, event in outcomes.items() if event.kind == COMPLETED}
    for job, item in zip(jobs, data, strict=True):
        if job.id in completed:
            assert f"Sending notification to {item['phoneNumber']}, with message: {item['message']}" in sent
