"""A Redis that forgets: jobs deleted, evicted, flushed or lost in a restart. A creator
waiting for them hears that they are gone (it would wait for ever), and never takes the
events of another job that got the same id (the id counter starts at 1 again)."""

import pytest
import redis

from queuing_system.events import VANISHED
from queuing_system.grader.expected import TASK8_DATA, created, creator_differences
from queuing_system.grader.harness import RunningScript, reading_events, start_app, wait_for
from queuing_system.grader.redis_server import RedisServer

from .faults import traceback_free

QUEUE = "push_notification_code_2"
IDS = [str(n) for n in range(1, len(TASK8_DATA) + 1)]
GONE = f"{len(IDS)} jobs of {QUEUE} are gone from Redis"


def lost_lines(ids):
    return sorted(f"Notification job {job_id} failed: {VANISHED}" for job_id in ids)


def flushall(server, client):
    client.flushall()


def delete_the_jobs(server, client):
    client.delete(*[f"rq:job:{job_id}" for job_id in IDS])


def restart_empty(server, client):
    server.stop()
    server.start()  # no AOF, no RDB saved: it starts with nothing


def evict_everything(server, client):
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.config_set("maxmemory", 1)  # beneath anything: the next write evicts all it can
    try:
        client.set("a write", "that makes room")
    except redis.exceptions.OutOfMemoryError:
        pass  # nothing left to evict
    client.config_set("maxmemory", 0)


@pytest.fixture
def server():
    with RedisServer() as server:
        yield server


def waiting_creator(server, client):
    """7_job_creator.py, its eleven jobs created and no processor: it waits for them."""
    creator = RunningScript("7_job_creator.py", server.url)
    assert [creator.next_line() for _ in IDS] == [created(job_id) for job_id in IDS]
    wait_for(reading_events(client))
    return creator


@pytest.mark.parametrize("forget", [flushall, delete_the_jobs, restart_empty, evict_everything])
def test_a_creator_whose_jobs_vanished_hears_each_failed_and_ends(server, forget):
    client = redis.Redis.from_url(server.url)
    creator = waiting_creator(server, client)
    try:
        forget(server, client)
        assert creator.wait(timeout=60) == 0  # each job has failed: the spec's end
    finally:
        creator.kill()
    assert sorted(creator.output[len(IDS) :]) == lost_lines(IDS)
    traceback_free(creator)
    assert creator.stderr.count(GONE) == 1, creator.stderr


def test_after_a_flushall_a_creator_never_takes_the_events_of_the_jobs_that_got_its_ids(server):
    client = redis.Redis.from_url(server.url)
    before = waiting_creator(server, client)
    processor = None
    try:
        client.flushall()  # its jobs 1-11 are gone; the next creator's are 1-11 again
        after = RunningScript("7_job_creator.py", server.url)
        assert [after.next_line() for _ in IDS] == [created(job_id) for job_id in IDS]
        processor = RunningScript("7_job_processor.py", server.url)
        assert after.wait(timeout=60) == 0
        assert before.wait(timeout=60) == 0
        assert processor.stop() == 0
    finally:
        for script in (before, processor):
            if script is not None:
                script.kill()
    assert creator_differences(after.output, TASK8_DATA, first_id=1) == []
    assert sorted(before.output[len(IDS) :]) == lost_lines(IDS)  # its own jobs' fate, not theirs
    traceback_free(before, after, processor)


def test_the_scripts_say_once_that_a_redis_that_evicts_can_lose_their_data(server):
    client = redis.Redis.from_url(server.url)
    client.config_set("maxmemory-policy", "allkeys-lru")
    evicts = "Redis evicts keys when it is full (maxmemory-policy allkeys-lru)"
    processor = RunningScript("7_job_processor.py", server.url)  # a parent and two workers
    app, _ = start_app("9_stock.py", server.url)  # a parent and two server processes
    creator = RunningScript("7_job_creator.py", server.url)
    try:
        assert creator.wait(timeout=60) == 0
        assert processor.stop() == 0
        assert app.stop() == 0
    finally:
        for script in (processor, app, creator):
            script.kill()
    assert creator_differences(creator.output, TASK8_DATA, first_id=1) == []
    for script in (processor, app, creator):
        assert script.stderr.count(evicts) == 1, f"{script.name}: {script.stderr}"
