"""A rolling restart: a processor stopped while another serves the same queue hands back at
once what it had taken and not started, so the batch goes on without waiting for the
stranded-job upkeep (issue 36: jobs sat ~30 s in the intermediate list)."""

import signal
import time

import pytest
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from queuing_system.grader.expected import TASK8_DATA
from queuing_system.grader.harness import wait_for
from queuing_system.jobs import create_jobs, job_queue

QUEUE = "push_notification_code_2"
BATCH = [{"phoneNumber": phone, "message": message} for phone, message in TASK8_DATA]
WITHIN = 2.0  # seconds from the stop to the batch's last outcome (the bound)


def waiting_on_the_queue(client):
    """How many workers wait on the queue, each in a blocking move (BLMOVE)."""
    return sum(entry.get("cmd") == "blmove" for entry in client.client_list())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_processor_hands_back_its_claimed_jobs_at_once(sig, redis_url, scripts, redis_binary):
    leaving = scripts("7_job_processor.py", redis_url, "--workers", "3")
    wait_for(lambda: waiting_on_the_queue(redis_binary) == 3)
    staying = scripts("7_job_processor.py", redis_url, "--workers", "4")
    wait_for(lambda: waiting_on_the_queue(redis_binary) == 7)
    queue = job_queue(QUEUE, redis_binary)
    done = [FinishedJobRegistry(queue=queue), FailedJobRegistry(queue=queue)]

    leaving.process.send_signal(sig)
    stopped_at = time.monotonic()
    # The leaving workers still wait in their blocking move (up to a second after the
    # signal): the batch's first jobs are handed to them, as they stop.
    time.sleep(0.2)
    create_jobs(queue, "7_job_processor.process", BATCH)
    wait_for(lambda: sum(registry.count for registry in done) == len(BATCH), timeout=30)
    took = time.monotonic() - stopped_at

    assert leaving.wait() == (0 if sig == signal.SIGTERM else 130)
    assert leaving.output == []  # it ran nothing: every job it took went back
    assert "Traceback" not in leaving.stderr
    assert took < WITHIN, f"the batch ended {took:.1f}s after the stop"
    assert queue.count == 0 and redis_binary.llen(f"rq:queue:{QUEUE}:intermediate") == 0
    assert staying.stop() == 0
    assert len(staying.output) == 9  # the 9 numbers not blacklisted, each sent once
