"""Garbage pushed onto a queue: the worker says so on stderr and processes the rest."""

from rq.registry import FinishedJobRegistry

from queuing_system.harness import RunningScript, wait_for
from queuing_system.jobs import create_job, create_jobs, job_queue
from queuing_system.workers import SET_ASIDE_KEY

QUEUE = "push_notification_code_2"


def test_garbage_is_reported_and_the_rest_is_processed(redis_url, redis_binary):
    queue = job_queue(QUEUE, redis_binary)
    queue.push_job_id("no-such-job")  # an id with no job behind it
    broken = create_job(queue, "7_job_processor.process", {"phoneNumber": "1", "message": "x"})
    redis_binary.hset(broken.key, "data", b"\x00not zlib, not json")
    redis_binary.rpush(queue.key, b"\xff\xfe binary id")
    good = create_jobs(queue, "7_job_processor.process",
                       [{"phoneNumber": f"41500000{n:02d}", "message": f"m{n}"} for n in range(10)])
    processor = RunningScript("7_job_processor.py", redis_url)
    try:
        finished = FinishedJobRegistry(queue=queue)
        wait_for(lambda: all(job.id in finished for job in good))
        assert processor.running()
        assert sorted(processor.next_line() for _ in good) == sorted(
            f"Sending notification to 41500000{n:02d}, with message: m{n}" for n in range(10)
        )
        wait_for(lambda: broken.id in queue.failed_job_registry)
        assert processor.stop() == 0
    finally:
        processor.kill()
    assert broken.id in processor.stderr
    assert "Traceback" not in processor.stderr
    assert "quitting" not in processor.stderr  # no worker died of it
    assert redis_binary.lrange(SET_ASIDE_KEY.format(queue=QUEUE), 0, -1) == [b"\xff\xfe binary id"]


def test_a_worker_starting_after_a_binary_id_was_taken_still_works(redis_url, redis_binary):
    # What a worker that died on it left: the id in RQ's intermediate list, where every
    # worker's first maintenance pass read it (and died, in a loop, under load).
    queue = job_queue(QUEUE, redis_binary)
    redis_binary.rpush(queue.intermediate_queue_key, b"\xff\xfe binary id")
    good = create_jobs(queue, "7_job_processor.process",
                       [{"phoneNumber": f"41500000{n:02d}", "message": f"m{n}"} for n in range(10)])
    processor = RunningScript("7_job_processor.py", redis_url)
    try:
        finished = FinishedJobRegistry(queue=queue)
        wait_for(lambda: all(job.id in finished for job in good))
        assert processor.stop() == 0
    finally:
        processor.kill()
    assert "quitting" not in processor.stderr
    assert redis_binary.lrange(SET_ASIDE_KEY.format(queue=QUEUE), 0, -1) == [b"\xff\xfe binary id"]
