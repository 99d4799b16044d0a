"""A Redis outage under a running processor: one line when it is lost, a reminder while it
stays away, one when it is back, per worker, each line whole (never glued to another)."""

import redis
from rq import Worker

from queuing_system.grader.harness import RunningScript, processing, wait_for
from queuing_system.grader.redis_server import RedisServer
from queuing_system.jobs import job_queue

OUTAGE = 12  # seconds at most: until each worker's first reminder (after 10 s)
LOST = "Redis client not connected to the server: "
STILL = "Redis client still not connected after "
BACK = "Redis client connected to the server again after "


def test_an_outage_past_the_first_reminder_gives_each_worker_at_most_three_whole_lines():
    with RedisServer() as server:
        connection = redis.Redis.from_url(server.url)
        queue = job_queue("push_notification_code_2", connection)
        processor = RunningScript("7_job_processor.py", server.url)
        try:
            wait_for(lambda: len(Worker.all(queue=queue)) == 2)
            server.stop()
            wait_for(lambda: processor.stderr.count(LOST) == 2, timeout=15)
            wait_for(lambda: processor.stderr.count(STILL) == 2, timeout=OUTAGE + 5)
            server.start()
            wait_for(lambda: processor.stderr.count(BACK) == 2, timeout=15)
            assert processor.stop() == 0
        finally:
            processor.kill()
    first, *lines = processor.stderr.splitlines()
    assert first + "\n" == processing("push_notification_code_2", 2)
    others = [line for line in lines if not line.startswith((LOST, STILL, BACK))]
    assert not others, "\n".join(["lines of another kind:", *others, "all of stderr:", *lines])
    assert [sum(line.startswith(kind) for line in lines) for kind in (LOST, STILL, BACK)] == [2, 2, 2], lines
