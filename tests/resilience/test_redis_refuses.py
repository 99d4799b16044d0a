"""A Redis that answers but cannot serve now: -BUSY (a long script), -OOM (full under
noeviction), -READONLY (a replica). Never a traceback, never a dead thread: the scripts
wait where the spec retries and say it in one line; a creator that announced its jobs
hears their outcomes; a processor does not crash-loop; the apps answer 503 in JSON; the
seat sale outlives it (no second sale, no seat oversold)."""

import json
import queue
import time

import pytest
import redis

from queuing_system.grader.expected import (
    NO_SEAT,
    RESERVATION_FAILED,
    RESERVATION_IN_PROCESS,
    TASK8_DATA,
    available_seats,
    creator_differences,
    not_enough_stock,
    seat_completed,
    task6_creator,
)
from queuing_system.grader.harness import (
    RunningScript,
    get_many,
    http_get,
    reading_events,
    run_script,
    start_app,
    wait_for,
)
from queuing_system.grader.redis_server import RedisServer
from queuing_system.jobs import create_jobs, job_queue
from queuing_system.web.sale import BEAT_EVERY, INSTANCE_TTL, INSTANCES_KEY

from .faults import busy, full, read_only, stale, traceback_free

CANNOT_SERVE = "Redis cannot serve now: "
REPLICA = "is a replica: waiting for a primary"
READONLY_SAID = f"{CANNOT_SERVE}READONLY You can't write against a read only replica."
BUSY_503 = '{"error":"Service Unavailable","reason":"Redis cannot serve now"}'
SERVING_AGAIN = "Redis serving again after "


@pytest.fixture
def server():
    with RedisServer() as server:
        yield server


# Each script's first write is refused: it says why in one line and exits 1.
TASKS = ["1_redis_op.py", "2_redis_op_async.py", "4_redis_advanced_op.py"]
CREATORS = ["6_job_creator.py", "7_job_creator.py", "8_job.py"]


@pytest.mark.parametrize("name", TASKS + CREATORS)
def test_a_write_redis_refuses_ends_a_script_with_one_line_and_no_traceback(server, name):
    with full(server):
        done = run_script(name, server.url, timeout=30)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"{CANNOT_SERVE}OOM ")
    assert "created" not in done.stdout  # nothing announced: nothing was created


@pytest.mark.parametrize("name", TASKS)
def test_a_task_whose_write_meets_a_replica_says_so_in_one_line_and_exits_1(server, name):
    with read_only(server):
        done = run_script(name, server.url, timeout=30)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    # redis-py's own asyncio client (task 3) says it in Redis's words
    assert line in (f"{CANNOT_SERVE}Redis at 127.0.0.1:{server.port} is a replica", READONLY_SAID)


@pytest.mark.parametrize("name", CREATORS)
def test_a_creator_whose_write_meets_a_replica_says_so_once_and_waits_for_a_primary(server, name):
    """A replica may be a primary demoted by a failover whose name will lead to the new
    one (docs/failover.md): the creator keeps trying, as for a lost connection."""
    with read_only(server):
        creator = RunningScript(name, server.url)
        try:
            wait_for(lambda: REPLICA in creator.stderr)
            time.sleep(1)  # more tries, each answered READONLY: said once
            assert creator.running() and creator.output == []
        except BaseException:
            creator.kill()
            raise
    try:
        assert creator.next_line().startswith("Notification job created: ")
    finally:
        creator.kill()
    assert creator.stderr.count(REPLICA) == 1, creator.stderr
    assert f"{SERVING_AGAIN}" in creator.stderr
    traceback_free(creator)


def test_creators_that_announced_their_jobs_hear_every_outcome_through_a_busy_redis(server):
    client = redis.Redis.from_url(server.url)
    six = RunningScript("6_job_creator.py", server.url)
    started = [six]
    try:
        assert six.next_line() == task6_creator(1)[0]
        seven = RunningScript("7_job_creator.py", server.url)
        started.append(seven)
        assert [seven.next_line() for _ in TASK8_DATA][-1] == "Notification job created: 12"
        wait_for(lambda: reading_events(client)() and len(client.client_list()) >= 3)
        with busy(server):
            wait_for(lambda: CANNOT_SERVE + "BUSY" in six.stderr and CANNOT_SERVE + "BUSY" in seven.stderr)
            # Processors started now wait for Redis too, then serve.
            started += [RunningScript("6_job_processor.py", server.url)]
            started += [RunningScript("7_job_processor.py", server.url)]
            wait_for(lambda: all(CANNOT_SERVE + "BUSY" in script.stderr for script in started))
        assert six.wait(timeout=60) == 0 and seven.wait(timeout=60) == 0
        for processor in started[2:]:
            assert processor.stop() == 0
    finally:
        for script in started:
            script.kill()
    assert six.output == task6_creator(1)
    assert creator_differences(seven.output, TASK8_DATA, first_id=2) == []
    traceback_free(*started)
    for script in started:
        assert script.stderr.count(CANNOT_SERVE) == 1 and SERVING_AGAIN in script.stderr, script.stderr


def test_a_processor_under_oom_waits_without_crashing_and_loses_no_job(server):
    client = redis.Redis.from_url(server.url)
    queue = job_queue("push_notification_code_2", client)
    datas = [{"phoneNumber": f"4157{n:06d}", "message": "m"} for n in range(20)]
    jobs = create_jobs(queue, "7_job_processor.process", datas)
    with full(server):
        processor = RunningScript("7_job_processor.py", server.url)
        try:
            wait_for(lambda: processor.stderr.count(CANNOT_SERVE + "OOM") == 2)  # one per worker
            workers = children(processor.pid)
            # Still refused at the first reminder, 10 s on: the same two workers, waiting.
            wait_for(lambda: processor.stderr.count("Redis still cannot serve after") == 2, timeout=20)
            assert children(processor.pid) == workers
        except BaseException:
            processor.kill()
            raise
    try:
        assert len([processor.next_line() for _ in jobs]) == len(jobs)  # each sent once
        assert processor.stop() == 0
    finally:
        processor.kill()
    traceback_free(processor)
    lines = processor.stderr.splitlines()[1:]
    kinds = [CANNOT_SERVE, "Redis still cannot serve after ", SERVING_AGAIN]
    counts = [sum(line.startswith(kind) for line in lines) for kind in kinds]
    # A worker says it is served again at its next job's write: an idle one, later.
    assert counts in ([2, 2, 1], [2, 2, 2]) and sum(counts) == len(lines), lines


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return sorted(listing.read().split())


def registration(client):
    """The time (Redis's clock) until which the one seat app serving counts as serving."""
    [(_, until)] = client.zrange(INSTANCES_KEY, 0, -1, withscores=True)
    return until


def server_time(client):
    return client.time()[0]


def test_a_busy_redis_neither_ends_the_seat_sale_nor_lets_a_second_app_open_another(server):
    client = redis.Redis.from_url(server.url)
    first, base1 = start_app("100_seat.py", server.url)
    second = None
    try:
        assert http_get(base1 + "/process")[0] == 200
        answers = get_many([base1 + "/reserve_seat"], 20)
        assert [body for _, (_, _, body) in answers] == [RESERVATION_IN_PROCESS] * 20
        assert sorted(first.next_line() for _ in range(20)) == sorted(seat_completed(n) for n in range(1, 21))
        with busy(server):
            status, kind, body = http_get(base1 + "/available_seats")
            assert (status, kind) == (503, "application/json")
            assert json.loads(body)["reason"] == "Redis cannot serve now"
            # Long enough for a beat of the sale to meet the BUSY (a beat every BEAT_EVERY s).
            time.sleep(BEAT_EVERY + 1)
        ended = server_time(client)
        # The beat went on: the app counts as serving INSTANCE_TTL s past the end of the BUSY.
        wait_for(lambda: registration(client) >= ended + INSTANCE_TTL, timeout=BEAT_EVERY + 5)
        second, base2 = start_app("100_seat.py", server.url)
        assert http_get(base2 + "/available_seats")[2] == available_seats(30)  # joined, not reset
        assert http_get(base2 + "/process")[0] == 200
        answers = get_many([base1 + "/reserve_seat", base2 + "/reserve_seat"], 40)
        queued = [body for _, (_, _, body) in answers].count(RESERVATION_IN_PROCESS)
        lines = lines_of([first, second], queued)  # each queued job's outcome
        assert http_get(base1 + "/available_seats")[2] == available_seats(0)
        assert first.stop() == 0 and second.stop() == 0
    finally:
        for app in (first, second):
            if app is not None:
                app.kill()
    completed = [line for line in lines if line.endswith(" completed")]
    assert len(completed) == 30  # 50 seats in all, no more
    assert len([line for line in lines if line.endswith(NO_SEAT)]) == queued - 30
    traceback_free(first, second)


def lines_of(apps, count, timeout=60):
    """The next `count` lines the `apps` print between them."""
    lines = []
    deadline = time.monotonic() + timeout
    while len(lines) < count:
        assert time.monotonic() < deadline, f"{len(lines)} lines of {count}: {lines}"
        for app in apps:
            try:
                line = app.lines.get(timeout=0.05)
            except queue.Empty:
                continue
            assert line is not None, f"{app.name} ended: {app.stderr}"
            lines.append(line)
    return lines


@pytest.mark.parametrize("fault, code", [(busy, "BUSY"), (full, "OOM"), (read_only, "READONLY")])
def test_the_apps_answer_503_in_json_while_redis_cannot_serve_and_recover(server, fault, code):
    stock, stock_base = start_app("9_stock.py", server.url)
    seat, seat_base = start_app("100_seat.py", server.url)
    reserve, reserve_seat = stock_base + "/reserve_product/1", seat_base + "/reserve_seat"
    try:
        with fault(server):
            answers = get_many([reserve], 20, clients=4)
            seat_answers = get_many([reserve_seat], 4, clients=4)
            reads = [http_get(stock_base + "/list_products/1"), http_get(seat_base + "/available_seats")]
        wait_for(lambda: http_get(reserve)[0] == http_get(reserve_seat)[0] == 200, timeout=15)
        wait_for(lambda: SERVING_AGAIN in stock.stderr, timeout=15)
        assert stock.stop() == 0 and seat.stop() == 0
    finally:
        stock.kill()
        seat.kill()
    for _url, (status, kind, body) in answers:
        assert (status, kind) == (503, "application/json"), body
        assert json.loads(body) == {"error": "Service Unavailable", "reason": "Redis cannot serve now"}
    # Reads go on under OOM and READONLY; under BUSY nothing is served.
    assert [status for status, _, _ in reads] == ([503, 503] if code == "BUSY" else [200, 200])
    # The seat app's job not saved: the spec's own answer, once it could read the flag.
    expected = (503, BUSY_503) if code == "BUSY" else (200, RESERVATION_FAILED)
    assert {(status, body) for _url, (status, _kind, body) in seat_answers} == {expected}
    traceback_free(stock, seat)
    lines = stock.stderr.splitlines()[1:]  # after the line saying where it listens
    # A replica's READONLY drops the connection, said as such (docs/failover.md).
    said = f"Redis at 127.0.0.1:{server.port} {REPLICA}" if code == "READONLY" else CANNOT_SERVE + code
    refusals = [line for line in lines if line.startswith(said)]
    # Said once per server process (two here), not once per request.
    assert 1 <= len(refusals) <= 2, lines
    assert all(line.startswith((said, SERVING_AGAIN)) for line in lines), lines
    assert all(line.startswith((said, SERVING_AGAIN, "Listening on")) for line in seat.stderr.splitlines())


def test_reservations_refused_for_want_of_stock_leave_nothing_in_redis(server):
    client = redis.Redis.from_url(server.url)
    app, base = start_app("9_stock.py", server.url)
    try:
        assert [http_get(base + "/reserve_product/3")[0] for _ in range(2)] == [200, 200]  # sold out
        keys = client.dbsize()
        answers = get_many([base + "/reserve_product/3"], 2000, clients=16)
        assert {body for _, (_, _, body) in answers} == {not_enough_stock(3)}
        assert client.dbsize() == keys  # no receipt for a refusal: it costs Redis nothing
        assert app.stop() == 0
    finally:
        app.kill()


def test_a_replica_cut_off_from_its_master_gets_the_stock_app_503s_and_the_creators_wait(server):
    app, base = start_app("9_stock.py", server.url)
    started = [app]
    try:
        with stale(server):
            answers = get_many([base + "/list_products/1", base + "/reserve_product/1"], 8, clients=4)
            creator = RunningScript("6_job_creator.py", server.url)
            started.append(creator)
            wait_for(lambda: CANNOT_SERVE + "MASTERDOWN" in creator.stderr)
            assert creator.running()  # waiting for Redis, as for a lost connection
        assert creator.next_line() == task6_creator(1)[0]
        processor = RunningScript("6_job_processor.py", server.url)
        started.append(processor)
        assert creator.wait(timeout=60) == 0 and processor.stop() == 0
        assert app.stop() == 0
    finally:
        for script in started:
            script.kill()
    assert creator.output == task6_creator(1)
    for _url, (status, _kind, body) in answers:
        assert (status, json.loads(body)["reason"]) == (503, "Redis cannot serve now")
    traceback_free(*started)
