"""Garbage pushed onto a queue: the worker says so on stderr and processes the rest."""

from rq.registry import FinishedJobRegistry

from queuing_system.grader.harness import RunningScript, wait_for
from queuing_system.jobs import create_job, create_jobs, job_queue
from queuing_system.worker.set_aside import SET_ASIDE_KEY

QUEUE = "push_notification_code_2"
GOOD = [{"phoneNumber": f"41500000{n:02d}", "message": f"m{n}"} for n in range(10)]


def run_until_finished(url, queue, jobs):
    """Run 7_job_processor until every job of `jobs` has finished; return it, stopped."""
    processor = RunningScript("7_job_processor.py", url)
    try:
        finished = FinishedJobRegistry(queue=queue)
        wait_for(lambda: all(job.id in finished for job in jobs))
        assert processor.running()
        assert sorted(processor.next_line() for _ in jobs) == sorted(
            f"Sending notification to {data['phoneNumber']}, with message: {data['message']}" for data in GOOD
        )
        wait_for(lambda: not queue.count)
        assert processor.stop() == 0
    finally:
        processor.kill()
    assert "Traceback" not in processor.stderr
    assert "quitting" not in processor.stderr  # no worker died of the garbage
    return processor


def test_garbage_is_reported_and_the_rest_is_processed(redis_url, redis_binary):
    queue = job_queue(QUEUE, redis_binary)
    queue.push_job_id("no-such-job")  # an id with no job behind it
    broken = create_job(queue, "7_job_processor.process", {"phoneNumber": "1", "message": "x"})
    redis_binary.hset(broken.key, "data", b"\x00not zlib, not json")
    redis_binary.rpush(queue.key, b"\xff\xfe binary id")
    good = create_jobs(queue, "7_job_processor.process", GOOD)
    processor = run_until_finished(redis_url, queue, good)
    wait_for(lambda: broken.id in queue.failed_job_registry)
    assert broken.id in processor.stderr
    assert redis_binary.lrange(SET_ASIDE_KEY.format(queue=QUEUE), 0, -1) == [b"\xff\xfe binary id"]


def test_a_worker_starting_after_a_binary_id_was_taken_still_works(redis_url, redis_binary):
    # What a worker that died on it left: the id in RQ's intermediate list, where every
    # worker's first maintenance pass read it (and died, in a loop, under load).
    queue = job_queue(QUEUE, redis_binary)
    redis_binary.rpush(queue.intermediate_queue_key, b"\xff\xfe binary id")
    run_until_finished(redis_url, queue, create_jobs(queue, "7_job_processor.process", GOOD))
    assert redis_binary.lrange(SET_ASIDE_KEY.format(queue=QUEUE), 0, -1) == [b"\xff\xfe binary id"]
