"""A batch of jobs is saved as RQ's own enqueue_many saves it, in one transaction: create_jobs
leaves Redis as RQ's enqueue_many leaves it, and the writes RQ's methods queue in watched_transaction
(the scripts' way) are merged to one per key without changing what Redis holds."""

import importlib

import fakeredis
import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from queuing_system import jobs
from queuing_system.jobs import Recorder, Timing, create_jobs, job_calls, job_queue, merged, reserve_job_ids
from tests.test_layout import moved, snapshot

PROCESS = "7_job_processor.process"
DATAS = [
    {"phoneNumber": f"415000000{n}", "message": f"m{n}" * (n * 60)} for n in range(4)
]  # some over 256 bytes


@pytest.mark.parametrize("timing", [jobs.NOW, Timing(attempts=3, backoff=2)], ids=["once", "retried"])
def test_create_jobs_leaves_redis_as_rqs_enqueue_many_does(redis_binary, timing):
    redis_binary.flushall()
    created = create_jobs(job_queue("fence", redis_binary), PROCESS, DATAS, timing)
    ours = snapshot(redis_binary, [])
    redis_binary.flushall()
    queue = job_queue("fence", redis_binary)
    ids = reserve_job_ids(redis_binary, len(DATAS))
    theirs_jobs = queue.enqueue_many(job_calls(PROCESS, DATAS, ids, timing))
    theirs = snapshot(redis_binary, [])
    assert moved(ours, theirs) == {}
    for job, theirs_job in zip(created, theirs_jobs, strict=True):  # the jobs returned are RQ's
        assert (job.id, list(job.args), job.description, job.origin) == (
            theirs_job.id,
            list(theirs_job.args),
            theirs_job.description,
            theirs_job.origin,
        )
        assert (job.retries_left, job.retry_intervals, job.get_status()) == (
            theirs_job.retries_left,
            theirs_job.retry_intervals,
            theirs_job.get_status(),
        )
        assert job.meta == {} and job.meta is not created[0].meta or job is created[0]


def held(client):
    """Every key's type and content."""
    read = {
        b"hash": client.hgetall,
        b"list": lambda key: client.lrange(key, 0, -1),
        b"set": client.smembers,
        b"zset": lambda key: client.zrange(key, 0, -1, withscores=True),
        b"string": client.get,
    }
    return {key: (client.type(key), read[client.type(key)](key)) for key in client.keys()}


def sent(client, commands):
    """What Redis holds after `commands` in one transaction."""
    client.flushall()
    with client.pipeline() as pipeline:
        for args, options in commands:
            pipeline.execute_command(*args, **options)
        pipeline.execute()
    return held(client)


def rq_writes(client, timing):
    """The commands RQ's methods queue for three jobs, as watched_transaction records them."""
    queue = job_queue("fence", client)
    calls = job_calls("tests.job_functions.record", [{"n": n} for n in range(3)], ["1", "2", "3"], timing)
    recorder = Recorder(client)
    if timing.delay:
        timing.schedule_many(queue, calls, recorder)
    else:
        queue.enqueue_many(calls, pipeline=recorder)
    assert recorder.commands, "RQ queued nothing on the recorder"
    return recorder.commands


@pytest.mark.parametrize("timing", [jobs.NOW, Timing(delay=60)], ids=["enqueued", "scheduled"])
def test_rqs_writes_merged_leave_redis_as_they_did(redis_binary, timing):
    commands = rq_writes(redis_binary, timing)
    assert sent(redis_binary, merged(commands)) == sent(redis_binary, commands)
    assert len(merged(commands)) == 3 + 2  # a HSET per job; one RPUSH or ZADD, one SADD


MERGEABLE = [
    ("HSET", "h", "a", 1, "b", "x"),
    ("RPUSH", b"q", "1"),
    ("HSET", b"h", "a", 2),  # the same key as bytes: after the first, as Redis sees it
    ("RPUSH", "q", "2", "3"),
    ("LPUSH", "l", "1"),
    ("SADD", "s", "m"),
    ("LPUSH", "l", "2", "3"),
    ("ZADD", "z", 1, "m", 2.5, "n"),
    ("SADD", "s", "m", "n"),
    ("ZADD", "z", 3, "m"),
    *[("RPUSH", "q", str(n)) for n in range(4, 20)],
]


def test_appendable_writes_merged_leave_redis_as_they_did(redis_binary, monkeypatch):
    monkeypatch.setattr(jobs, "MOST_ARGUMENTS", 5)  # RPUSH q: several commands, in order
    commands = [(args, {}) for args in MERGEABLE]
    assert sent(redis_binary, merged(commands)) == sent(redis_binary, commands)
    assert redis_binary.lrange("q", 0, -1) == [str(n).encode() for n in range(1, 20)]


UNMERGEABLE = {
    "two kinds on one key": [("RPUSH", "k", "a"), ("LPUSH", "k", "b")],
    "another command": [("HSET", "h", "a", 1), ("EXPIRE", "h", 60)],
    "a ZADD option": [("ZADD", "z", 1, "m"), ("ZADD", "z", "NX", 2, "m")],
    "a field without its value": [("HSET", "h", "a", 1), ("HSET", "h", "b")],
    "a key neither str nor bytes": [("SADD", 5, "m"), ("SADD", 5, "n")],
    "an option": [(("HSET", "h", "a", 1), {}), (("HSET", "h", "b", 2), {"keys": ["h"]})],
}


@pytest.mark.parametrize("commands", UNMERGEABLE.values(), ids=UNMERGEABLE.keys())
def test_other_writes_are_sent_as_they_are(commands):
    commands = [command if isinstance(command[1], dict) else (command, {}) for command in commands]
    assert merged(commands) is commands


def test_a_batch_sent_again_after_a_dropped_connection_is_watched_transaction(redis_binary, monkeypatch):
    sends = []
    real = jobs.streamed

    def drop_the_first_reply(commands):
        send = real(commands)

        def sent_then_lost(client, first_key):
            send(client, first_key)
            sends.append(1)
            if len(sends) == 1:
                raise redis.ConnectionError("the reply was lost")

        return sent_then_lost

    redis_binary.flushall()
    monkeypatch.setattr(jobs, "streamed", drop_the_first_reply)
    created = create_jobs(job_queue("fence", redis_binary), PROCESS, DATAS)
    assert len(sends) == 1  # settled by looking, not sent again
    assert redis_binary.lrange("rq:queue:fence", 0, -1) == [job.id.encode() for job in created]


def test_a_batch_larger_than_a_part_is_streamed_in_one_transaction(redis_binary, monkeypatch):
    # Packed and sent STREAMED commands at a time: a creator of 100,000 jobs held 700 bytes a
    # job of packed transaction (bench.py scale). Still one MULTI/EXEC, under WATCH.
    monkeypatch.setattr(jobs, "STREAMED", 2)
    redis_binary.flushall()
    redis_binary.config_resetstat()
    created = create_jobs(job_queue("fence", redis_binary), PROCESS, iter(DATAS))  # any iterable, read once
    assert redis_binary.lrange("rq:queue:fence", 0, -1) == [job.id.encode() for job in created]
    assert [list(job.args) for job in created] == [[data] for data in DATAS]
    assert len(created) == 4 and [job.id for job in created[1:3]] == [created[1].id, created[2].id]
    assert redis_binary.info("commandstats")["cmdstat_exec"]["calls"] == 1


def test_a_batch_redis_refuses_a_write_of_raises_it(redis_binary):
    redis_binary.flushall()
    redis_binary.set("rq:queue:fence", "not a list")  # its RPUSH is refused at EXEC
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        create_jobs(job_queue("fence", redis_binary), PROCESS, DATAS)


def saved_by_the_scripts(server):
    """What each creating script saves of its jobs (its RQ calls, on fakeredis): the hashes
    of the jobs of tasks 6, 8 (at once and delayed), 10 and 13."""
    connection = fakeredis.FakeRedis(server=server)

    def queue(name):
        return Queue(name, connection=connection, serializer=JSONSerializer)

    importlib.import_module("6_job_creator").create_job(queue("push_notification_code"))
    creator = importlib.import_module("7_job_creator")
    creator.create_jobs(queue("push_notification_code_2"), jobs.NOW)
    creator.create_jobs(queue("push_notification_code_2"), Timing(delay=60, attempts=2))
    job8 = importlib.import_module("8_job")
    job8.create_push_notifications_jobs([{"phoneNumber": "4153518743", "message": "m"}], queue("any"))
    for reporter in job8.reporters:
        reporter.stop()
    job8.reporters.clear()
    seat = importlib.import_module("100_seat")
    app = seat.create_app(fakeredis.FakeRedis(server=server, decode_responses=True), connection)
    assert app.test_client().get("/reserve_seat").get_json() == {"status": "Reservation in process"}
    app.extensions["listener"].stop()
    return {key: connection.hgetall(key) for key in connection.keys("rq:job:*")}


def test_every_scripts_jobs_keep_our_timeout_and_retention_as_create_jobs_does(capsys):
    """Stopped after JOB_TIMEOUT (RQ's default: 180 s), and failed, kept FAILURE_TTL (RQ's
    default: a year, with a result stream that never expires): whichever script made them,
    and whichever worker (ours, RQ's own) runs them."""
    saved = saved_by_the_scripts(fakeredis.FakeServer())
    assert len(saved) == 1 + 11 + 11 + 1 + 1
    ours = {b"timeout": str(jobs.JOB_TIMEOUT).encode(), b"failure_ttl": str(jobs.FAILURE_TTL).encode()}
    for key, fields in saved.items():
        assert {field: fields.get(field) for field in ours} == ours, key
    [made] = create_jobs(job_queue("fence", fakeredis.FakeRedis()), PROCESS, DATAS[:1])
    assert (made.timeout, made.failure_ttl) == (jobs.JOB_TIMEOUT, jobs.FAILURE_TTL)


def test_a_job_that_names_its_own_timeout_and_retention_keeps_them(redis_binary):
    queue = job_queue("fence", redis_binary)
    with jobs.save_jobs(queue, 1) as ([job_id], pipeline):
        queue.enqueue(PROCESS, DATAS[0], job_id=job_id, job_timeout=300, failure_ttl=60, pipeline=pipeline)
    fields = redis_binary.hgetall(f"rq:job:{job_id}")
    assert (fields[b"timeout"], fields[b"failure_ttl"]) == (b"300", b"60")


class RefusesInfo(redis.Redis):
    """A client whose first INFOs find Redis away, as a creator's did in a failover."""

    refusals = 3

    def info(self, *args, **kwargs):
        if self.refusals:
            self.refusals -= 1
            raise redis.ConnectionError("Error 111 connecting to the old primary. Connection refused.")
        return super().info(*args, **kwargs)


def test_rqs_own_question_for_the_servers_version_is_waited_for_as_the_ids_are(redis_url):
    # Before: RQ's enqueue asked it inside the block, with no retry, and a creator started
    # as a primary died exited 1 (tests/failover, under four CPU hogs).
    client = RefusesInfo.from_url(redis_url)
    queue = job_queue("fence", client)
    with jobs.save_jobs(queue, 1) as ([job_id], pipeline):
        queue.enqueue(PROCESS, DATAS[0], job_id=job_id, pipeline=pipeline)
    assert client.refusals == 0
    assert client.lrange("rq:queue:fence", 0, -1)[-1] == job_id.encode()
    client.close()
