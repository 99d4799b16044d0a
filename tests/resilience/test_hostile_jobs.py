"""A writer who can reach Redis but must not run code: jobs naming any function but their
queue's (or a callback that is not ours) fail with a clear message and are never imported,
in both processors and in the seat app's worker thread; the worker carries on."""

import json
import zlib

import pytest
import redis
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from queuing_system.follower import EventFollower
from queuing_system.grader.harness import RunningScript, http_get, start_app, wait_for
from queuing_system.jobs import create_jobs, job_queue

CANARY = "/tmp/queuing-hostile-canary"


def hostile_job(connection, queue, job_id, data, **fields):
    """A job written field by field, as `redis-cli HSET` would (no RQ, no Python of ours)."""
    connection.hset(
        f"rq:job:{job_id}",
        mapping={
            "data": zlib.compress(json.dumps(data).encode()),
            "origin": queue,
            "status": "queued",
            "created_at": "2026-01-01T00:00:00.000000Z",
            "description": "hostile",
            "timeout": "20",
            **fields,
        },
    )
    connection.rpush(f"rq:queue:{queue}", job_id)


ATTACKS = {
    "os.system": (["os.system", None, [f"touch {CANARY}"], {}], {}),
    "builtins.exec": (["builtins.exec", None, [f"open('{CANARY}', 'w')"], {}], {}),
    "an instance method": (["system", "os", [f"touch {CANARY}"], {}], {}),
    "a foreign failure callback": (
        ["7_job_processor.process", None, [{"phoneNumber": "4153518780", "message": "x"}], {}],
        {"failure_callback_name": "os.system"},
    ),
    "a foreign success callback": (
        ["7_job_processor.process", None, [{"phoneNumber": "4150000000", "message": "x"}], {}],
        {"success_callback_name": "builtins.exec"},
    ),
    "webhooks to any address": (
        ["7_job_processor.process", None, [{"phoneNumber": "4150000000", "message": "x"}], {}],
        {"webhooks": json.dumps([{"url": "http://127.0.0.1:9/", "job_status": "finished"}])},
    ),
    "repeats, 10^20 of them": (
        ["7_job_processor.process", None, [{"phoneNumber": "4150000000", "message": "x"}], {}],
        {"repeats_left": "99999999999999999999"},
    ),
}


@pytest.fixture(autouse=True)
def no_canary():
    import os

    if os.path.exists(CANARY):
        os.remove(CANARY)
    yield
    assert not os.path.exists(CANARY), "a hostile job ran code"


@pytest.mark.parametrize(
    "processor, queue",
    [
        ("6_job_processor.py", "push_notification_code"),
        ("7_job_processor.py", "push_notification_code_2"),
    ],
)
def test_a_processor_refuses_every_job_naming_a_function_not_its_own(redis_url, processor, queue):
    """Every attack on one queue, a good job behind them: each refused, the good one sent."""
    connection = redis.Redis.from_url(redis_url)
    follower = EventFollower(connection, queue)
    evil = {f"evil-{n}": attack for n, attack in enumerate(ATTACKS)}
    for job_id, attack in evil.items():
        data, fields = ATTACKS[attack]
        if processor.startswith("6_") and data[0] == "7_job_processor.process":
            data = ["6_job_processor.process", *data[1:]]
        hostile_job(connection, queue, job_id, data, **fields)
    [good] = create_jobs(
        job_queue(queue, connection),
        processor.replace(".py", ".process"),
        [{"phoneNumber": "4151111111", "message": "after"}],
    )
    script = RunningScript(processor, redis_url)
    try:
        outcomes = {e.job_id: e for e in follower.follow([*evil, good.id]) if e.kind != "progress"}
        assert script.next_line() == "Sending notification to 4151111111, with message: after"
        assert script.stop() == 0
    finally:
        script.kill()
    assert outcomes[good.id].kind == "completed"  # the worker carried on
    failed = FailedJobRegistry(queue=job_queue(queue, connection))
    for job_id, attack in evil.items():
        assert outcomes[job_id].kind == "failed", attack
        assert outcomes[job_id].error.startswith("Job refused: "), attack
        assert job_id in failed, attack
    assert script.stderr.count("Job refused") == len(evil) and "Traceback" not in script.stderr
    assert len(script.output) == 1  # the hostile jobs sent nothing


def test_the_seat_apps_worker_refuses_a_foreign_job(redis_url):
    connection = redis.Redis.from_url(redis_url)
    app, base = start_app("100_seat.py", redis_url)
    try:
        hostile_job(connection, "reserve_seat", "evil", ["os.system", None, [f"touch {CANARY}"], {}])
        assert http_get(base + "/reserve_seat")[0] == 200
        assert http_get(base + "/process")[0] == 200
        queue = job_queue("reserve_seat", connection)
        wait_for(
            lambda: "evil" in FailedJobRegistry(queue=queue) and FinishedJobRegistry(queue=queue).count == 1
        )
        assert http_get(base + "/available_seats")[2] == '{"numberOfAvailableSeats":"49"}'
        assert app.stop() == 0
    finally:
        app.kill()
    assert "Job refused" in app.stderr


BAD_EVENTS = [
    {"job": "1", "event": "progress", "progress": "33.3"},
    {"job": "1", "event": "failed-ish"},
    {"job": "1"},
]


def test_bad_events_on_the_stream_leave_the_creators_transcript_intact(redis_url, scripts, redis_binary):
    from queuing_system.events import stream_key
    from queuing_system.grader.expected import TASK8_DATA, creator_differences

    creator = scripts("7_job_creator.py", redis_url)
    for _ in TASK8_DATA:
        creator.next_line()
    for fields in BAD_EVENTS:
        redis_binary.xadd(stream_key("push_notification_code_2"), fields)
    processor = scripts("7_job_processor.py", redis_url)
    assert creator.wait() == 0
    assert creator_differences(creator.output, TASK8_DATA, first_id=1) == []
    assert creator.stderr.count("skipped an unreadable entry") == 1
    assert processor.stop() == 0


def test_bad_events_do_not_break_the_seat_apps_reporter(redis_url, redis_binary):
    from queuing_system.events import stream_key

    app, base = start_app("100_seat.py", redis_url)
    try:
        for fields in BAD_EVENTS:
            redis_binary.xadd(stream_key("reserve_seat"), fields)
        for _ in range(2):
            assert http_get(base + "/reserve_seat")[2] == '{"status":"Reservation in process"}'
        assert http_get(base + "/process")[0] == 200
        assert sorted([app.next_line(), app.next_line()]) == [
            "Seat reservation job 1 completed",
            "Seat reservation job 2 completed",
        ]
        assert http_get(base + "/reserve_seat")[0] == 200
        assert app.stop() == 0
    finally:
        app.kill()
    assert "Traceback" not in app.stderr


def test_job_data_is_checked_where_it_runs_and_untrusted_text_cannot_forge_lines(
    redis_url, scripts, redis_binary
):
    queue = job_queue("push_notification_code_2", redis_binary)
    follower = EventFollower(redis_binary, "push_notification_code_2")
    jobs = create_jobs(
        queue,
        "7_job_processor.process",
        [
            {"phoneNumber": 4153518780, "message": "a number, not text, past the blacklist"},
            {
                "phoneNumber": "4150000001",
                "message": "hi\nSending notification to 1, with message: forged\x1b[2K",
            },
        ],
    )
    processor = scripts("7_job_processor.py", redis_url)
    outcomes = {e.job_id: e for e in follower.follow(job.id for job in jobs) if e.kind != "progress"}
    line = processor.next_line()
    assert processor.stop() == 0
    assert (outcomes[jobs[0].id].kind, outcomes[jobs[0].id].error) == (
        "failed",
        "Job data has no phoneNumber string",
    )
    assert processor.output == [line]  # one line: the newline did not start a second one
    assert (
        line == "Sending notification to 4150000001, with message: hi\\n"
        "Sending notification to 1, with message: forged\\x1b[2K"
    )
