"""One outcome per job, and no notification sent twice, under faults: connections killed
mid-batch, a worker killed between a failure's event and its bookkeeping, a worker frozen
(SIGSTOP) after taking a job until another has run it."""

import collections
import os
import signal
import threading

import redis
from rq import Worker as RQWorker
from rq.exceptions import AbandonedJobError
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from queuing_system.events import COMPLETED, FAILED, OUTCOMES, parse, stream_key
from queuing_system.follower import EventFollower
from queuing_system.grader.harness import wait_for
from queuing_system.jobs import create_jobs, job_queue

from .test_connection_kills import ConnectionKiller

QUEUE_7 = "push_notification_code_2"
QUEUE_6 = "push_notification_code"
BLACKLISTED = {"4153518780", "4153518781"}  # 7_job_processor's


def outcomes_by_job(client, queue_name):
    """{job id: [outcome kinds]} of every outcome event in the queue's stream."""
    outcomes = collections.defaultdict(list)
    for _entry_id, fields in client.xrange(stream_key(queue_name)):
        event = parse(fields)
        if event.kind in OUTCOMES:
            outcomes[event.job_id].append(event.kind)
    return outcomes


def ended(client, queue):
    try:
        return FinishedJobRegistry(queue=queue).count + FailedJobRegistry(queue=queue).count
    except redis.ConnectionError:  # killed by the test's own killer: ask again
        return 0


def test_connections_killed_mid_batch_every_job_gets_one_outcome_and_one_notification(
    redis_url, redis_binary, scripts
):
    total = 1000
    queue = job_queue(QUEUE_7, redis_binary)
    data = [{"phoneNumber": f"41535187{n % 100:02d}", "message": f"m{n}"} for n in range(total)]
    jobs = create_jobs(queue, "7_job_processor.process", data)
    processor = scripts("7_job_processor.py", redis_url)
    with ConnectionKiller(redis_url) as killer:
        wait_for(lambda: ended(redis_binary, queue) >= total * 2 // 3, timeout=120)
    wait_for(lambda: ended(redis_binary, queue) == total, timeout=60)
    assert processor.stop() == 0
    assert killer.kills > 50

    outcomes = outcomes_by_job(redis_binary, QUEUE_7)
    twice = {job_id: kinds for job_id, kinds in outcomes.items() if len(kinds) != 1}
    assert not twice, f"jobs with more than one outcome: {twice}"
    expected = [FAILED if d["phoneNumber"] in BLACKLISTED else COMPLETED for d in data]
    assert [outcomes[job.id][0] for job in jobs] == expected
    sent = collections.Counter(processor.output)
    assert sum(sent.values()) == expected.count(COMPLETED)
    assert set(sent.values()) == {1}, "a notification was sent twice"
    assert redis_binary.llen(queue.intermediate_queue_key) == 0


def test_a_failure_is_reported_with_its_bookkeeping_in_one_step(redis_url, redis_binary, scripts):
    """A kill between a failed job's event and its failed status would have the job reported
    failed twice (once more as abandoned): both go to Redis in one atomic step."""
    queue = job_queue(QUEUE_7, redis_binary)
    steps = []  # commands of one client call: a script's commands follow it in MONITOR
    monitoring = threading.Event()

    def monitor():
        with redis.Redis.from_url(redis_url).monitor() as feed:
            monitoring.set()
            for command in feed.listen():
                if command["client_type"] == "lua" and steps:
                    steps[-1].append(command["command"])
                else:
                    steps.append([command["command"]])
                if "STOP-MONITOR" in command["command"]:
                    return

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    monitoring.wait(10)
    [job] = create_jobs(queue, "7_job_processor.process", [{"phoneNumber": "4153518780", "message": "m"}])
    processor = scripts("7_job_processor.py", redis_url)
    wait_for(lambda: job.id in FailedJobRegistry(queue=queue))
    assert processor.stop() == 0
    redis_binary.echo("STOP-MONITOR")
    watcher.join(10)

    [event_step] = [
        step
        for step in steps
        if any(command.startswith("XADD") and f"job {job.id} event failed" in command for command in step)
    ]
    assert any(command.startswith(f"ZADD rq:failed:{QUEUE_7}") for command in event_step), event_step
    assert any(
        command.startswith(f"HSET rq:job:{job.id} ") and " status failed" in command for command in event_step
    ), event_step


def blocked_on_dequeue(client):
    return [c for c in client.client_list() if c["cmd"] == "blmove" and "b" in c["flags"]]


def test_a_worker_frozen_after_taking_a_job_does_not_run_it_again_once_another_has(
    redis_url, redis_binary, scripts
):
    queue = job_queue(QUEUE_6, redis_binary)
    first = scripts("6_job_processor.py", redis_url)
    wait_for(lambda: len(RQWorker.all(queue=queue)) == 1)
    [frozen] = RQWorker.all(queue=queue)
    for _attempt in range(20):
        # Frozen while Redis holds its blocking dequeue: Redis hands it the job all the same.
        wait_for(lambda: blocked_on_dequeue(redis_binary))
        os.kill(frozen.pid, signal.SIGSTOP)
        [job] = create_jobs(
            queue, "6_job_processor.process", [{"phoneNumber": "4153518780", "message": "once"}]
        )
        if redis_binary.lrange(queue.intermediate_queue_key, 0, -1) == [job.id.encode()]:
            break
        os.kill(frozen.pid, signal.SIGCONT)  # its dequeue had timed out: try again
        first.next_line()
    else:
        raise AssertionError("the frozen worker never held a job")

    second = scripts("6_job_processor.py", redis_url)  # finds the job stranded, runs it
    assert second.next_line(timeout=60) == "Sending notification to 4153518780, with message: once"
    os.kill(frozen.pid, signal.SIGCONT)
    try:
        wait_for(lambda: "given to another worker" in first.stderr or not first.lines.empty())
    except AssertionError as error:
        raise AssertionError(f"the woken worker said nothing; stderr: {first.stderr!r}") from error
    assert first.stop() == 0
    assert second.stop() == 0
    sends = [line for line in first.output + second.output if line.endswith("message: once")]
    assert len(sends) == 1, "the notification was sent twice"
    assert outcomes_by_job(redis_binary, QUEUE_6)[job.id] == [COMPLETED]


def test_an_abandoned_job_is_reported_once_and_a_late_end_is_dropped(redis_binary):
    """RQ reports a job abandoned once its execution expires in the started registry (any
    process that counts the registry may do it). The report claims the execution: a second
    report, or the end sent by its worker waking from a pause, writes nothing."""
    queue = job_queue(QUEUE_7, redis_binary)
    [job] = create_jobs(queue, "7_job_processor.process", [{"phoneNumber": "4150000000", "message": "m"}])
    registry = queue.started_job_registry
    redis_binary.zadd(registry.key, {f"{job.id}:execution-1": 1})  # expired long ago
    for _ in range(2):
        EventFollower.report_failure(job, redis_binary, AbandonedJobError, AbandonedJobError(), None)
    assert outcomes_by_job(redis_binary, QUEUE_7)[job.id] == [FAILED]
    assert redis_binary.zcard(registry.key) == 0
