"""Our worker (queuing_system/worker/) keeps RQ's data model (tests/test_layout.py compares
it with RQ's own worker on every path): dependents still run, progress still goes out while a
job runs, an end waits for Redis while it is away, and a stopping worker gives up in time."""

import gc
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from datetime import datetime, timezone

import pytest
import redis
from rq import Callback, Queue
from rq import Worker as RQWorker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from queuing_system import layout, lua
from queuing_system.connection import make_client
from queuing_system.events import stream_key
from queuing_system.follower import EventFollower, failure_message
from queuing_system.grader.expected import task6_creator, task7_processor
from queuing_system.grader.harness import scripts_dir
from queuing_system.grader.redis_server import RedisServer
from queuing_system.jobs import ON_FAILURE, Timing, create_jobs, job_queue
from queuing_system.rq_job import JobFailed, JobRefused
from queuing_system.worker import maintenance, steps
from queuing_system.worker.core import Worker, failure_text
from queuing_system.worker.pool import WorkerThread, drain, make_worker
from queuing_system.worker.set_aside import SET_ASIDE_KEY
from queuing_system.worker.steps import StepConnection, Steps
from tests import job_functions

ROOT = scripts_dir()  # the checkout: conftest.py points the harness at it

QUEUE = "push_notification_code_2"
PROCESS = "7_job_processor.process"
NOTIFICATION = {"phoneNumber": "4153518743", "message": "This is the code 4321 to verify your account"}
BLACKLISTED = {"phoneNumber": "4153518780", "message": "This is the code 4562 to verify your account"}


def test_a_dependent_job_runs_once_its_parent_has_finished(redis_binary):
    queue = Queue("deps", connection=redis_binary, serializer=JSONSerializer)
    parent = queue.enqueue("tests.job_functions.record", {"name": "parent"})
    child = queue.enqueue("tests.job_functions.record", {"name": "child"}, depends_on=parent)
    assert child.get_status() == JobStatus.DEFERRED
    drain({"deps": "tests.job_functions.record"}, redis_binary)
    assert redis_binary.lrange("test:ran", 0, -1) == [b"parent", b"child"]
    assert child.get_status() == JobStatus.FINISHED


def test_progress_goes_out_while_the_job_is_still_running(redis_binary):
    queue = job_queue("slow", redis_binary)
    follower = EventFollower(redis_binary, "slow")
    [job] = create_jobs(queue, "tests.job_functions.slow_with_progress", [{"seconds": 1.5}])
    worker = WorkerThread({"slow": "tests.job_functions.slow_with_progress"}, redis_binary)
    worker.start()
    try:
        events = []
        deadline = time.monotonic() + 1.0
        while not events and time.monotonic() < deadline:
            events = follower.read()
        assert [(e.kind, e.progress) for e in events] == [("progress", 50)]
        assert job.get_status() == JobStatus.STARTED  # heard before the job ended
        assert [e.kind for e in follower.follow([job.id])] == ["completed"]
    finally:
        worker.stop()
    assert job.return_value() == 1.5
    # Sent once: by the thread while the job ran, not again with its end.
    kinds = [fields[b"event"] for _entry, fields in redis_binary.xrange(stream_key("slow"))]
    assert kinds == [b"progress", b"completed"]


def test_a_jobs_end_waits_for_redis_while_it_is_away_and_is_written_when_it_is_back(capsys):
    with RedisServer(appendonly=True) as server:
        client = redis.Redis.from_url(server.url)
        queue = job_queue(QUEUE, client)
        follower = EventFollower(client, QUEUE)
        [job] = create_jobs(queue, "tests.job_functions.look", [{}])
        restart = threading.Timer(0.5, server.start)
        job_functions.LOOKS[:] = [server.stop, restart.start]  # Redis goes while the job runs
        try:
            drain({QUEUE: "tests.job_functions.look"}, client)
        finally:
            job_functions.LOOKS.clear()
            restart.join()
        assert [e.kind for e in follower.follow([job.id])] == ["completed"]
        assert job.get_status() == JobStatus.FINISHED
        err = capsys.readouterr().err
        assert "Redis client not connected to the server: " in err
        assert "Redis client connected to the server again after " in err


def test_a_step_sent_again_after_its_reply_was_lost_is_answered_not_done_again(redis_binary):
    keys = ["queuing:step:test", stream_key("steps")]
    steps = Steps(redis.Redis(connection_pool=redis_binary.connection_pool), threading.Event())
    args = [0, "7", "", "", 50, ""]
    steps.send(lua.PROGRESS, keys, args)
    assert lua.PROGRESS(redis_binary, keys, args) == [b"", b"", b"none", None]  # the same step again
    assert redis_binary.xlen(stream_key("steps")) == 1
    steps.send(lua.PROGRESS, keys, [0, "7", "", "", 60, "55"])  # the next one is done
    assert redis_binary.xlen(stream_key("steps")) == 2


def test_a_step_on_a_dropped_connection_is_sent_again_on_a_new_one_quietly(redis_url, redis_binary, capsys):
    # As a redis-py client retries a command (its Retry): no outage said for one drop.
    keys = ["queuing:step:test", stream_key("steps")]
    client = make_client(redis_url, decode_responses=False)
    connection = StepConnection(client.connection_pool, threading.Event())
    steps = Steps(connection, threading.Event())
    steps.send(lua.PROGRESS, keys, [0, "7", "", "", 50, ""])
    assert redis_binary.client_kill_filter(_id=connection.execute_command("CLIENT", "ID")) == 1
    redis_binary.script_flush()  # and Redis lost the script: loaded again
    steps.send(lua.PROGRESS, keys, [0, "8", "", "", 50, ""])
    assert redis_binary.xlen(stream_key("steps")) == 2
    with pytest.raises(redis.ResponseError):  # a refused command is raised, not retried
        connection.execute_command("INCR", stream_key("steps"))
    assert connection.execute_command("PING") == b"PONG"
    assert "Redis" not in capsys.readouterr().err
    connection.close()
    client.close()


def test_a_stopping_worker_sends_its_queued_writes_before_leaving(redis_binary):
    queue = job_queue(QUEUE, redis_binary)
    jobs = create_jobs(queue, PROCESS, [NOTIFICATION] * 3)
    worker = make_worker({QUEUE: PROCESS}, redis_binary)
    worker.work(burst=True, max_jobs=2)
    statuses = [job.get_status() for job in jobs]
    assert statuses == [JobStatus.FINISHED, JobStatus.FINISHED, JobStatus.QUEUED]
    assert queue.count == 1


def test_an_id_not_text_taken_during_maintenance_is_set_aside(redis_binary, monkeypatch):
    # Another worker takes it just after this one has looked for such ids to set aside,
    # then the maintenance reads the intermediate list again: RQ's own read each id as
    # text, and the worker quit on the UnicodeDecodeError.
    worker = make_worker({QUEUE: PROCESS}, redis_binary)
    queue = worker.queues[0]
    looked, taken = maintenance.set_aside_undecodable, []

    def then_another_worker_takes_it(queue, entries):
        looked(queue, entries)
        if not taken:
            taken.append(redis_binary.rpush(queue.intermediate_queue_key, b"\xff\xfe binary id"))

    monkeypatch.setattr(maintenance, "set_aside_undecodable", then_another_worker_takes_it)
    worker.maintenance.clean(worker.steps_of[0])
    assert redis_binary.lrange(SET_ASIDE_KEY.format(queue=QUEUE), 0, -1) == [b"\xff\xfe binary id"]
    assert redis_binary.llen(queue.intermediate_queue_key) == 0


def test_a_job_a_worker_is_taking_is_left_to_it_by_passes_a_moment_apart(redis_binary, monkeypatch):
    # The soak: two workers' upkeep a moment apart (each on its own clock) saw a job between
    # a worker's blocking move and its start, and the second look requeued it: the worker
    # found it gone ("given to another worker"), about twice every 10 s.
    [job] = create_jobs(job_queue(QUEUE, redis_binary), PROCESS, [NOTIFICATION])
    first, second = (make_worker({QUEUE: PROCESS}, redis_binary) for _ in range(2))
    queue = first.queues[0]
    redis_binary.lmove(queue.key, queue.intermediate_queue_key)  # as the blocking move takes it
    now = time.time()
    monkeypatch.setattr(maintenance.time, "time", lambda: now)
    first.maintenance.clean(first.steps_of[0])
    second.maintenance.clean(second.steps_of[0])
    assert redis_binary.lrange(queue.intermediate_queue_key, 0, -1) == [job.id.encode()]
    # RQ's own mark: when it was first seen (IntermediateQueue.get_first_seen reads it).
    seen = queue.intermediate_queue.get_first_seen(job.id)
    assert seen is not None and abs(seen.timestamp() - now) < 1e-3
    now += maintenance.STRANDED_AFTER  # still there: its worker died or froze with it
    second.maintenance.clean(second.steps_of[0])
    assert redis_binary.llen(queue.intermediate_queue_key) == 0
    assert queue.get_job_ids() == [job.id]


STOP_FROM_A_HANDLER = """
import signal, sys, time
from queuing_system.worker.core import StopRequest
stop = StopRequest()
signal.signal(signal.SIGALRM, lambda signum, frame: stop.set())
signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)  # the handler lands inside wait(), often
end = time.monotonic() + 1
while time.monotonic() < end:
    stop.clear()
    stop.wait(0.00001)
signal.setitimer(signal.ITIMER_REAL, 0)
print("stopped as asked")
"""


def test_a_stop_asked_by_a_signal_handler_inside_a_wait_does_not_hang_the_worker():
    # A worker's handler set its threading.Event while the main thread held the Event's
    # lock in wait(): the worker hung until its pool killed it (CI, and 3 runs in 6 of
    # test_stopping's processors with Redis down). This loop hangs a threading.Event.
    done = subprocess.run(
        [sys.executable, "-c", STOP_FROM_A_HANDLER], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout) == (0, "stopped as asked\n"), done.stderr


def once(*actions):
    """A function that does `actions` the first time it is called, and nothing after."""
    done = []

    def act():
        if not done:
            done.append(True)
            for action in actions:
                action()

    return act


def freeze(server):
    os.kill(server.process.pid, signal.SIGSTOP)


def thaw(server):
    os.kill(server.process.pid, signal.SIGCONT)


def test_a_step_redis_leaves_unanswered_is_cut_sent_again_and_done_once_when_it_wakes(monkeypatch, capsys):
    # No socket timeout bounds a step (its poll() per read is gone): the worker's watch does.
    monkeypatch.setattr(steps, "WAIT_BOUND", 0.5)
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        queue = job_queue(QUEUE, client)
        follower = EventFollower(client, QUEUE)
        jobs = create_jobs(queue, "tests.job_functions.look", [{}, {}])
        wake = threading.Timer(2.0, thaw, [server])
        job_functions.LOOKS[:] = [once(lambda: freeze(server), wake.start)]  # as the first job runs
        try:
            drain({QUEUE: "tests.job_functions.look"}, make_client(server.url, decode_responses=False))
        finally:
            job_functions.LOOKS.clear()
            wake.cancel()
            thaw(server)
        heard = [(event.job_id, event.kind) for event in follower.follow(jobs)]
        assert heard == [(jobs[0].id, "completed"), (jobs[1].id, "completed")]  # each once
        assert [job.get_status() for job in jobs] == [JobStatus.FINISHED] * 2
        [worker] = [key for key in client.keys("rq:worker:*") if not key.endswith(b":executions")]
        assert client.hget(worker, "successful_job_count") == b"2"  # each counted once
    err = capsys.readouterr().err
    assert "Redis client not connected to the server: Redis did not answer within 0.5 s" in err
    assert "Redis client connected to the server again after " in err


def test_a_wait_is_counted_from_the_end_of_a_pause_of_the_worker_not_cut_for_it(redis_url):
    # SIGSTOPped with a reply on its way (tests/resilience/test_one_outcome.py): woken, its
    # watch must let its thread read what came, not cut the connection under it.
    connection = StepConnection(
        make_client(redis_url, decode_responses=False).connection_pool, threading.Event()
    )
    try:
        connection.since = time.monotonic() - 2 * steps.WAIT_BOUND  # sent long ago...
        connection.looked = time.monotonic() - 2 * steps.WAIT_BOUND  # ...and the watch away as long
        connection.cut_if_stuck()
        assert connection.cut is None
        assert connection.execute_command("PING") == b"PONG"  # not cut from under it
        connection.since = time.monotonic() - 2 * steps.WAIT_BOUND
        connection.resumed -= 2 * steps.WAIT_BOUND  # a wait the watch saw all of
        connection.cut_if_stuck()
        assert connection.cut is not None
    finally:
        connection.since = None
        connection.close()


STOPPED_AS = {  # Redis, as the worker is told to stop: what its last step's end meets, and the bound
    "away": (lambda server: server.stop(), lambda server: None, 5.0),  # keep_trying's patience
    "frozen": (lambda server: freeze(server), lambda server: thaw(server), steps.STOP_WAIT + 1.5),
}


@pytest.mark.parametrize("fault", STOPPED_AS)
def test_a_stopping_worker_gives_up_a_step_in_time_when_redis_is(fault, capsys):
    fail, restore, bound = STOPPED_AS[fault]
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        queue = job_queue(QUEUE, client)
        [job] = create_jobs(queue, "tests.job_functions.look", [{}])
        worker = make_worker({QUEUE: "tests.job_functions.look"}, client)
        job_functions.LOOKS[:] = [lambda: fail(server), worker.stopping.set]  # stopped as Redis fails
        started = time.monotonic()
        try:
            worker.work(burst=True)
            took = time.monotonic() - started
        finally:
            job_functions.LOOKS.clear()
            restore(server)
    assert took < bound, f"{took:.1f}s"
    assert f"Gave up sending the end of job {job.id}" in capsys.readouterr().err


SIGTERM_AT_REGISTRATION = """
import os, signal, sys
import redis
from queuing_system.worker.pool import log_level, make_worker, quiet_rq_logging

quiet_rq_logging()
signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as a supervisor's child starts
worker = make_worker({"q": "tests.job_functions.record"}, redis.Redis.from_url(sys.argv[1]))
register = worker.register_birth


def register_then_get_terminated():
    register()
    os.kill(os.getpid(), signal.SIGTERM)


worker.register_birth = register_then_get_terminated
worker.work(logging_level=log_level())
print("stopped cleanly")
"""


def test_a_sigterm_right_after_registration_still_deregisters_the_worker(redis_url, redis_binary):
    done = subprocess.run(
        [sys.executable, "-c", SIGTERM_AT_REGISTRATION, redis_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "stopped cleanly\n"), done.stderr
    assert RQWorker.all(connection=redis_binary) == []


def test_a_plain_rq_success_callback_runs_on_a_real_connection(redis_binary):
    queue = Queue("plain", connection=redis_binary, serializer=JSONSerializer)
    callback = Callback("tests.job_functions.note_success")
    job = queue.enqueue("tests.job_functions.record", {"name": "a"}, on_success=callback)
    Worker([queue], redis_binary, serializer=JSONSerializer).work(burst=True)  # runs anything
    assert redis_binary.lrange("test:callbacks", 0, -1) == [job.id.encode()]
    assert job.get_status() == JobStatus.FINISHED


def test_a_job_with_result_ttl_0_is_deleted_once_done(redis_binary):
    queue = Queue("plain", connection=redis_binary, serializer=JSONSerializer)
    job = queue.enqueue("tests.job_functions.record", {"name": "a"}, result_ttl=0)
    drain({"plain": "tests.job_functions.record"}, redis_binary)
    assert redis_binary.lrange("test:ran", 0, -1) == [b"a"]
    assert not redis_binary.exists(job.key)


def test_a_job_past_its_timeout_fails_with_rqs_timeout_error(redis_binary):
    queue = job_queue("plain", redis_binary)
    follower = EventFollower(redis_binary, "plain")
    job = queue.enqueue("tests.job_functions.sleep", {"seconds": 3}, job_timeout=1, on_failure=ON_FAILURE)
    drain({"plain": "tests.job_functions.sleep"}, redis_binary)
    assert job.get_status() == JobStatus.FAILED
    [event] = follower.follow([job.id])
    assert (event.kind, event.error) == ("failed", "Task exceeded maximum timeout value (1 seconds)")


def test_an_error_without_a_message_is_said_by_its_type(redis_binary):
    queue = job_queue("plain", redis_binary)
    follower = EventFollower(redis_binary, "plain")
    job = queue.enqueue("tests.job_functions.fail_silently", {}, on_failure=ON_FAILURE)
    drain({"plain": "tests.job_functions.fail_silently"}, redis_binary)
    [event] = follower.follow([job.id])
    assert (event.kind, event.error) == ("failed", "LookupError")
    assert failure_message(redis_binary, job.id) == "LookupError"  # as read back from RQ


def failure_recorded(client, job_function, data):
    queue = job_queue("plain", client)
    job = queue.enqueue(job_function, data, on_failure=ON_FAILURE)
    drain({"plain": job_function}, client)
    return job.latest_result().exc_string


def test_a_jobs_own_verdict_is_recorded_as_its_line_and_a_bug_with_its_traceback(redis_binary):
    verdict = failure_recorded(redis_binary, PROCESS, BLACKLISTED)
    assert verdict == "queuing_system.rq_job.JobFailed: Phone number 4153518780 is blacklisted\n"
    bug = failure_recorded(redis_binary, "tests.job_functions.fail_silently", {})
    assert bug.startswith("Traceback (most recent call last):") and bug.strip().endswith("LookupError")
    for error in (JobFailed("Phone number 1 is blacklisted"), JobRefused("Job refused: why"), JobFailed()):
        try:
            raise error
        except JobFailed:
            exc_info = sys.exc_info()
        assert failure_text(exc_info) == "".join(traceback.format_exception_only(*exc_info[:2]))


def test_every_key_a_job_leaves_expires_within_its_retention(redis_binary):
    from queuing_system.jobs import FAILURE_TTL, RESULT_TTL

    queue = job_queue(QUEUE, redis_binary)
    finished, failed = create_jobs(queue, PROCESS, [NOTIFICATION, BLACKLISTED])
    drain({QUEUE: PROCESS}, redis_binary)
    for job, retention in ((finished, RESULT_TTL), (failed, FAILURE_TTL)):
        for key in (job.key, f"rq:results:{job.id}".encode()):
            assert 0 < redis_binary.ttl(key) <= retention, key
    # What stays is shared, not per job: the id counter, the bounded event stream, the
    # registries (whose entries RQ drops as their jobs expire) and the queue list.
    lasting = {key for key in redis_binary.keys("*") if redis_binary.ttl(key) == -1}
    assert lasting == {
        b"queuing:job_ids",
        b"queuing:events:" + QUEUE.encode(),
        b"rq:queues",
        b"rq:finished:" + QUEUE.encode(),
        b"rq:failed:" + QUEUE.encode(),
    }


@pytest.mark.parametrize("chosen, runs_any_function", [(None, False), ("rq", True)])
def test_rqs_own_worker_can_be_chosen_instead_of_ours(
    redis_url, redis_binary, scripts, chosen, runs_any_function
):
    env = {"QUEUING_WORKER": chosen} if chosen else {}
    worker = scripts("6_job_processor.py", redis_url, **env)
    queue = job_queue("push_notification_code", redis_binary)
    stranger = queue.enqueue("tests.job_functions.record", {"name": "stranger"})
    creator = scripts("6_job_creator.py", redis_url)
    assert creator.wait() == 0
    assert creator.output == task6_creator(1)
    assert worker.next_line() == task7_processor()[0]
    assert stranger.get_status(refresh=True) == ("finished" if runs_any_function else "failed")
    assert worker.stop() == 0


def test_each_job_a_worker_makes_is_the_job_rqs_own_restore_makes(redis_binary):
    """A worker restores one job of each kind and copies it for the next (job_from): each
    copy must be what RQ's own restore makes of that job's hash, attribute for attribute."""
    queue = job_queue(QUEUE, redis_binary)
    datas = [NOTIFICATION, BLACKLISTED, {**NOTIFICATION, "message": "x" * 400}]  # the last deflated
    jobs = [
        *create_jobs(queue, PROCESS, datas),
        *create_jobs(queue, PROCESS, datas, Timing(attempts=3, backoff=2)),
    ]
    redis_binary.hset(
        jobs[1].key, mapping={"meta": '{"progress": 50}', "ended_at": "2026-01-02T03:04:05.000006Z"}
    )
    redis_binary.hset(jobs[2].key, "meta", b"\xff not json")  # kept unread, as RQ keeps it
    worker = make_worker({QUEUE: PROCESS}, redis_binary)
    moment = datetime.now(timezone.utc)
    for job in jobs:
        stored = redis_binary.hgetall(job.key)
        ours = worker.job_from(job.id.encode(), redis_binary.hmget(job.key, layout.TAKEN_FIELDS), moment)
        theirs = Job(job.id, connection=redis_binary, serializer=JSONSerializer)
        theirs.restore({**stored, b"status": b"started", b"worker_name": worker.name.encode()})
        theirs.started_at = theirs.last_heartbeat = moment
        if b"created_at" not in stored:
            theirs.created_at = ours.created_at
        for name, value in vars(theirs).items():
            assert vars(ours)[name] == value, (job.id, name)
        assert (ours.args, ours.kwargs, ours.func_name) == (theirs.args, theirs.kwargs, theirs.func_name)
    assert len(worker.prototypes) == 2, [sorted(kind) for kind in worker.prototypes]  # one per kind of job


def test_a_finished_jobs_result_stream_keeps_no_room_for_more_entries(redis_binary):
    # Redis 6.2-7.2 make a stream's first node 4 KB, for the entries to come: a result
    # stream keeps one. Made to fit, a finished job keeps 0.4 KB of result, not 4.3 KB.
    queue = job_queue(QUEUE, redis_binary)
    [done, failed] = create_jobs(queue, PROCESS, [NOTIFICATION, BLACKLISTED])
    drain({QUEUE: PROCESS}, redis_binary)
    for job in (done, failed):
        assert redis_binary.memory_usage(f"rq:results:{job.id}") < 1_000
        assert 0 < redis_binary.ttl(f"rq:results:{job.id}")  # its expiry set after the copy
    assert done.latest_result().type.value == 1 and failed.latest_result().type.value == 2
    assert not redis_binary.exists("queuing:copying")


def garbage_after_failures(client, count):
    """Objects the cycle collector finds after one worker failed `count` jobs."""
    client.flushall()
    create_jobs(job_queue(QUEUE, client), PROCESS, [BLACKLISTED] * count)
    gc.collect()
    gc.disable()
    try:
        drain({QUEUE: PROCESS}, client)
        return gc.collect()
    finally:
        gc.enable()


def test_a_failed_job_leaves_no_garbage_for_the_cycle_collector(redis_binary):
    # A failure's traceback held the frame that held it: a cycle per failed job, which the
    # collector had to find, and a failure cost more CPU than a success.
    few, many = garbage_after_failures(redis_binary, 10), garbage_after_failures(redis_binary, 110)
    assert many - few < 100, (few, many)


MARKS = [  # (the marker's value, the step's number, what the marker says it did, or None)
    (None, "1", None),
    ("9:1:0:started:a", "10", None),  # the step after: its number one digit longer
    ("10:1:0:started:a", "10", "a"),  # done: its reply lost
    ("10:1:0:started:a", "9", "a"),
    ("99:::none:", "100", None),
    ("100:::none:", "99", ""),
    ("x:1:0:started:a", "1", None),  # not ours: not done
    ("garbage", "1", None),
]


@pytest.mark.parametrize(("mark", "seq", "taken"), MARKS)
def test_a_step_is_done_before_if_its_marker_says_so(redis_binary, mark, seq, taken):
    asked = "local done = done_before(ARGV[1] ~= '' and ARGV[1] or nil, ARGV[2])\n"
    answer = "if done then return {done[4]} end return {}"
    script = lua.Script(f"{lua.source('include/step.lua')}\n{asked}{answer}")
    assert script(redis_binary, [], [mark or "", seq]) == ([] if taken is None else [taken.encode()])
