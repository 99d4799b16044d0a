"""Fuzzed job hashes, queue entries and event entries (hypothesis, on fakeredis): whatever
anyone writes, a worker never dies of it, a good job behind it still runs, and a follower
still hears that good job's outcome."""

import fakeredis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rq.job import JobStatus

from queuing_system.events import stream_key
from queuing_system.follower import EventFollower
from queuing_system.jobs import create_jobs, job_queue
from queuing_system.worker.pool import drain
from queuing_system.worker.set_aside import SET_ASIDE_KEY

QUEUE = "push_notification_code_2"
PROCESS = "7_job_processor.process"
JOB_FUNCTIONS = {QUEUE: PROCESS}
GOOD = {"phoneNumber": "4151111111", "message": "still sent"}
FIELDS = [
    "created_at",
    "data",
    "description",
    "ended_at",
    "enqueued_at",
    "failure_callback_name",
    "failure_callback_timeout",
    "group_id",
    "last_heartbeat",
    "origin",
    "started_at",
    "status",
    "stopped_callback_name",
    "success_callback_name",
    "success_callback_timeout",
    "timeout",
    "worker_name",
    "result_ttl",
    "failure_ttl",
    "ttl",
    "retries_left",
    "retry_intervals",
    "meta",
    "dependency_ids",
    "repeats_left",
    "repeat_intervals",
    "allow_dependency_failures",
    "enqueue_at_front",
    "exc_info",
    "last_result_id",
    "timestamp",
]
values = (
    st.binary(max_size=40)
    | st.text(max_size=40).map(str.encode)
    | st.sampled_from(
        [b"", b"-1", b"0", b"99999999999999999999", b"1.5", b"null", b"[]", b"{}", b"\xff", b"nan"]
    )
)


def good_job_runs_behind(connection, write_garbage):
    queue = job_queue(QUEUE, connection)
    follower = EventFollower(connection, QUEUE)
    write_garbage(queue)
    [good] = create_jobs(queue, PROCESS, [GOOD])
    drain(JOB_FUNCTIONS, connection)
    assert good.get_status(refresh=True) == JobStatus.FINISHED, "the worker died before the good job"
    assert queue.count == 0 and connection.llen(queue.intermediate_queue_key) == 0
    assert [event.kind for event in follower.follow([good.id])][-1] == "completed"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from(FIELDS), values, min_size=1, max_size=3))
@example(changes={"repeats_left": b"99999999999999999999"})  # found: the drain never ended
@example(changes={"result_ttl": b"9223372036854775808"})  # found: Redis refused its EXPIRE
@example(changes={"timeout": b"nan"})  # found: a step's EXPIRE of nan seconds, refused half-way
@example(changes={"meta": b"\x00"})  # found: a meta JSON cannot write, failing the worker, not the job
def test_a_job_hash_with_garbage_fields_never_kills_the_worker(changes):
    connection = fakeredis.FakeRedis()

    def garbage(queue):
        [bad] = create_jobs(queue, PROCESS, [{"phoneNumber": "4150000000", "message": "bad"}])
        connection.hset(bad.key, mapping=changes)

    good_job_runs_behind(connection, garbage)


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(st.binary(min_size=1, max_size=30), min_size=1, max_size=4))
def test_garbage_queue_entries_never_kill_the_worker(entries):
    connection = fakeredis.FakeRedis()
    good_job_runs_behind(connection, lambda queue: connection.rpush(queue.key, *entries))


@settings(max_examples=100, deadline=None)
@given(
    events=st.lists(
        st.dictionaries(st.binary(min_size=1, max_size=10), st.binary(max_size=10), min_size=1, max_size=4),
        max_size=4,
    )
)
def test_garbage_event_entries_never_stop_a_follower(events):
    connection = fakeredis.FakeRedis()

    def garbage(queue):
        for fields in events:
            connection.xadd(stream_key(QUEUE), fields)

    good_job_runs_behind(connection, garbage)


def test_a_job_that_cannot_be_read_is_set_aside_and_its_creator_hears_it_failed():
    connection = fakeredis.FakeRedis()
    queue = job_queue(QUEUE, connection)
    follower = EventFollower(connection, QUEUE)
    [bad] = create_jobs(queue, PROCESS, [GOOD])
    connection.hset(bad.key, "created_at", "garbage")
    drain(JOB_FUNCTIONS, connection)
    [event] = follower.follow([bad.id])
    assert (event.kind, event.error.split(" (")[0]) == ("failed", "Job set aside: it cannot be read")
    assert connection.lrange(SET_ASIDE_KEY.format(queue=QUEUE), 0, -1) == [bad.id.encode()]
    assert connection.hget(bad.key, "created_at") == b"garbage"  # left as it was, to inspect
