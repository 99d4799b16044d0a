"""Our worker writes RQ's data layout (queuing_system/layout.py): on every path a job
takes, what it leaves in Redis is what RQ's own SimpleWorker, on the installed RQ, leaves
from the same start. A difference fails naming the key and field that moved, so an RQ
release that changes its layout fails here, by name, before a job is lost to it.

The only differences are ours, named in OURS: the worker's step marker, and what RQ's own
worker cannot do (a job it cannot read kills it, where ours sets the job aside). The event
stream, ours too, is compared by the events a creator reads from it: our worker sends a
job's progress with its outcome, in one entry (events.py)."""

import base64
import re
import time
import zlib
from datetime import datetime, timedelta, timezone

import pytest
import rq
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from queuing_system import lua
from queuing_system.events import STREAM_PREFIX, entry_events
from queuing_system.jobs import ON_FAILURE, ON_SUCCESS, Timing, create_jobs, job_queue, watched_transaction
from queuing_system.worker.core import OUR_CALLBACKS, Worker
from queuing_system.worker.job import AllowlistJob
from queuing_system.worker.set_aside import SET_ASIDE_KEY
from tests import job_functions

QUEUE = "push_notification_code_2"
PROCESS = "7_job_processor.process"
JOB_FUNCTIONS = {QUEUE: [PROCESS, "tests.job_functions.look"]}
NOTIFICATION = {"phoneNumber": "4153518743", "message": "This is the code 4321 to verify your account"}
BLACKLISTED = {"phoneNumber": "4153518780", "message": "This is the code 4562 to verify your account"}

MASKS = [
    (re.compile(r"\b127\.0\.0\.1:\d+"), "<address>"),  # the worker's client port
    (re.compile(r"\d{4}-\d\d-\d\d[T ][\d:.]+(Z|\+00:00)?"), "<time>"),  # RQ's moments
    (re.compile(r"\b\d{10}\.\d+\b"), "<epoch>"),  # epoch seconds
    (re.compile(r"\b\d+\.\d+\b"), "<number>"),  # working time
    (re.compile(r"\b\d{13}-\d+\b"), "<entry>"),  # stream entry ids
    (re.compile(r"[0-9a-f]{32}"), "<id>"),  # execution ids, worker names
]


def mask(value, names):
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    for name in names:
        text = text.replace(name, "<worker>")
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def readable(field, value):
    """A value as RQ's tools read it: a job's data decompressed, a result's traceback
    decompressed, down to its last line (the frames above it are each worker's own code)."""
    if field == b"data":
        return zlib.decompress(value)
    if field == b"exc_string":
        return zlib.decompress(base64.b64decode(value)).decode().strip().splitlines()[-1]
    return value


def score(value, now):
    """A registry score, relative to now, in whole ten minutes (registries keep retention
    ends: 500 s, a day; a started job's abandon time: its timeout and a grace)."""
    return "inf" if value == float("inf") else round((value - now) / 600)


def snapshot(client, names):
    """{(key, part...): value} of every key (timestamps, ids and worker names masked), with
    (key, 'type') and (key, 'expires')."""
    now, state = time.time(), {}
    for raw in client.keys("*"):
        key, kind = mask(raw, names), client.type(raw).decode()
        state[key, "type"] = kind
        state[key, "expires"] = client.ttl(raw) > 0
        if kind == "hash":
            for field, value in client.hgetall(raw).items():
                state[key, mask(field, names)] = mask(readable(field, value), names)
        elif kind == "set":
            for member in client.smembers(raw):
                state[key, mask(member, names)] = "member"
        elif kind == "zset":
            for member, value in client.zrange(raw, 0, -1, withscores=True):
                state[key, mask(member, names)] = score(value, now)
        elif kind == "list":
            for n, member in enumerate(client.lrange(raw, 0, -1)):
                state[key, n] = mask(member, names)
        elif kind == "stream" and key.startswith(STREAM_PREFIX):
            entries = client.xrange(raw)
            for n, event in enumerate(event for _entry, fields in entries for event in entry_events(fields)):
                for field, value in vars(event).items():
                    state[key, n, field] = mask(value, names)
        elif kind == "stream":
            for n, (_entry, fields) in enumerate(client.xrange(raw)):
                for field, value in fields.items():
                    state[key, n, mask(field, names)] = mask(readable(field, value), names)
        else:
            state[key,] = mask(client.get(raw), names)
    return state


def moved(ours, theirs):
    """{(key, part...): (ours, theirs)} of what differs."""
    return {
        part: (ours.get(part), theirs.get(part))
        for part in ours.keys() | theirs.keys()
        if ours.get(part) != theirs.get(part)
    }


def only_ours(state):
    """Our own keys beside RQ's: the step marker (it expires), taken out of `state`."""
    markers = {part[0] for part in state if part[0].startswith("queuing:step:")}
    assert all(state[marker, "expires"] for marker in markers), "a step marker must expire"
    return {part: value for part, value in state.items() if part[0] not in markers}


def run_ours(client, queue):
    worker = Worker([queue], client, job_functions=JOB_FUNCTIONS)
    worker.work(burst=True)
    return [worker.name]


def run_rqs(client, queue):
    job_class = AllowlistJob.allowing(JOB_FUNCTIONS, OUR_CALLBACKS)  # as RQ documents custom job classes
    worker = SimpleWorker([queue], connection=client, serializer=JSONSerializer, job_class=job_class)
    worker.work(burst=True, with_scheduler=True)
    return [worker.name]


def left_by(run, client, setup):
    client.flushall()
    queue = job_queue(QUEUE, client)
    setup(client, queue)
    names = run(client, queue)
    return snapshot(client, names)


def started_by_a_worker_that_died(client, queue, retry=None):
    """A job started by RQ's own worker, then left: its run expired in the started registry."""
    [job] = create_jobs(queue, PROCESS, [NOTIFICATION], Timing(attempts=2) if retry else Timing())
    dead = SimpleWorker([queue], connection=client, serializer=JSONSerializer, name="d" * 32)
    taken, _queue = Queue.dequeue_any([queue], None, connection=client, serializer=JSONSerializer)
    dead.prepare_execution(taken)
    dead.prepare_job_execution(taken, remove_from_intermediate_queue=True)
    for run in client.zrange(queue.started_job_registry.key, 0, -1):
        client.zadd(queue.started_job_registry.key, {run: 1})  # expired long ago


def hostile(client, queue):
    """A job written field by field, naming a function its queue does not run."""
    [job] = create_jobs(queue, PROCESS, [NOTIFICATION])
    data = zlib.compress(b'["os.system", null, ["touch /tmp/queuing-layout-canary"], {}]')
    client.hset(job.key, "data", data)


PATHS = {
    "success": lambda client, queue: create_jobs(queue, PROCESS, [NOTIFICATION]),
    "failure": lambda client, queue: create_jobs(queue, PROCESS, [BLACKLISTED]),
    "retry with back-off": lambda client, queue: create_jobs(
        queue, PROCESS, [BLACKLISTED], Timing(attempts=3, backoff=60)
    ),
    "retried at once, then failed": lambda client, queue: create_jobs(
        queue, PROCESS, [BLACKLISTED], Timing(attempts=2)
    ),
    "delayed, due": lambda client, queue: delayed(client, queue),
    "abandoned": started_by_a_worker_that_died,
    "abandoned, retried": lambda client, queue: started_by_a_worker_that_died(client, queue, retry=True),
    "dependents": lambda client, queue: dependents(client, queue),
    "refused": hostile,
    "a result kept for ever": lambda client, queue: create_jobs(
        queue, PROCESS, [NOTIFICATION], result_ttl=-1
    ),
    "a result not kept": lambda client, queue: create_jobs(queue, PROCESS, [NOTIFICATION], result_ttl=0),
}


def delayed(client, queue):
    client.incr("queuing:job_ids")
    with watched_transaction(queue, ["1"]) as pipeline:
        queue.enqueue_at(
            datetime.now(timezone.utc) - timedelta(seconds=5),
            PROCESS,
            NOTIFICATION,
            job_id="1",
            on_success=ON_SUCCESS,
            on_failure=ON_FAILURE,
            pipeline=pipeline,
        )


def dependents(client, queue):
    parent = queue.enqueue(PROCESS, NOTIFICATION, job_id="parent", on_success=ON_SUCCESS)
    queue.enqueue(PROCESS, NOTIFICATION, job_id="child", depends_on=parent, on_success=ON_SUCCESS)


@pytest.mark.parametrize("path", PATHS)
def test_our_worker_leaves_redis_as_rqs_own_does(redis_binary, path):
    ours = only_ours(left_by(run_ours, redis_binary, PATHS[path]))
    theirs = left_by(run_rqs, redis_binary, PATHS[path])
    assert moved(ours, theirs) == {}, f"RQ {rq.__version__}: {path}"
    assert any(part[0].startswith(("rq:job:", "rq:results:")) for part in ours) or path == "a result not kept"


def test_a_job_neither_can_read_is_set_aside_by_ours_and_kills_rqs(redis_binary, capsys):
    def unreadable(client, queue):
        [job] = create_jobs(queue, PROCESS, [NOTIFICATION])
        client.hset(job.key, "created_at", "garbage")

    ours = only_ours(left_by(run_ours, redis_binary, unreadable))
    theirs = left_by(run_rqs, redis_binary, unreadable)
    differences = moved(ours, theirs)
    set_aside = SET_ASIDE_KEY.format(queue=QUEUE)
    # RQ's worker died on it: the id stays in its intermediate list, the job as it was.
    assert differences.pop(("rq:queue:push_notification_code_2:intermediate", 0)) == (None, "1")
    assert differences.pop(("rq:queue:push_notification_code_2:intermediate", "type")) == (None, "list")
    assert differences.pop(("rq:queue:push_notification_code_2:intermediate", "expires")) == (None, False)
    # Ours set it aside, said it failed, and left its hash as it was, but for its start.
    assert differences.pop((set_aside, 0)) == ("1", None)
    assert differences.pop((set_aside, "type")) == ("list", None)
    assert differences.pop((set_aside, "expires")) == (False, None)
    events = {part: values for part, values in differences.items() if part[0] == "queuing:events:" + QUEUE}
    assert [values[0] for part, values in sorted(events.items(), key=str) if part[-1] == "kind"] == ["failed"]
    started = {part: values for part, values in differences.items() if part[0] == "rq:job:1"}
    assert {part[1] for part in started} == {"status", "started_at", "worker_name", "last_heartbeat"}
    counts = {part: values for part, values in differences.items() if part[0].startswith("rq:worker:")}
    assert differences.keys() == events.keys() | started.keys() | counts.keys(), differences
    assert "set aside job 1" in capsys.readouterr().err


def running_under(run_kind, client, timeout):
    """What Redis holds while a job of timeout `timeout` runs under `run_kind`."""
    client.flushall()
    queue = job_queue(QUEUE, client)
    [job] = create_jobs(queue, "tests.job_functions.look", [{}])
    client.hset(job.key, "timeout", timeout)
    seen, names = [], []
    job_functions.LOOKS[:] = [lambda: seen.append(snapshot(client, names))]
    try:
        if run_kind == "ours":
            worker = Worker([queue], client, job_functions=JOB_FUNCTIONS)
        else:
            job_class = AllowlistJob.allowing(JOB_FUNCTIONS, OUR_CALLBACKS)
            worker = SimpleWorker([queue], connection=client, serializer=JSONSerializer, job_class=job_class)
        names.append(worker.name)
        worker.work(burst=True)
    finally:
        job_functions.LOOKS.clear()
    [running] = seen
    return running


@pytest.mark.parametrize("timeout", [20, 180])
def test_a_running_job_is_in_redis_as_under_rqs_own_worker(redis_binary, timeout):
    ours = only_ours(running_under("ours", redis_binary, timeout))
    # Ours moves due jobs from its loop, holding RQ's scheduler lock meanwhile.
    lock = [part for part in ours if part[0].startswith("rq:scheduler-lock:")]
    assert all(ours.pop(part) is not None for part in lock)
    theirs = running_under("theirs", redis_binary, timeout)
    assert moved(ours, theirs) == {}, f"RQ {rq.__version__}"
    assert any(part[0].startswith("rq:execution:") for part in ours)  # it covered a running job


def test_every_script_says_the_keys_and_arguments_it_uses():
    for path in sorted(lua.SCRIPTS.glob("*.lua")):
        text = lua.source(path.name)
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("--"))
        for kind in ("KEYS", "ARGV"):
            used = {int(n) for n in re.findall(rf"{kind}\[(\d+)\]", code)}
            said = {int(n) for n in re.findall(rf"{kind}\[(\d+)\]", comments)}
            said |= {
                n
                for low, high in re.findall(rf"{kind}\[(\d+)\.\.(\d+)\]", comments)
                for n in range(int(low), int(high) + 1)
            }
            assert used <= said, f"{path.name} uses {kind} {sorted(used - said)} its header does not state"


MOMENTS = [1_700_000_000_000_000, 1_700_000_000_250_000, 1_700_000_001_500_000, 1_800_000_000_123_456]


@pytest.mark.parametrize("micro", MOMENTS)  # epoch microseconds
def test_a_steps_moments_are_written_as_rq_writes_them(micro):
    from queuing_system import layout

    moment = datetime.fromtimestamp(micro // 1_000_000, timezone.utc).replace(microsecond=micro % 1_000_000)
    text = layout.moment_text(micro)
    assert text == layout.timestamp_text(moment) == moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert layout.read_timestamp(text.encode()) == rq.utils.utcparse(text) == layout.moment_of(micro)
    assert float(layout.epoch_text(micro)) == moment.timestamp()  # as RQ reads an execution's moments


def test_a_moment_read_again_is_the_same_and_its_text_as_read():
    from queuing_system import layout

    raw = b"2026-11-24T06:30:00.123456Z"
    first, again = layout.read_timestamp(raw), layout.read_timestamp(raw)
    assert first == again == rq.utils.utcparse(raw.decode())
    assert layout.timestamp_text(again) == raw.decode() == first.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    other = layout.read_timestamp(b"2026-11-24T06:30:00Z")  # not RQ's shape: RQ's utcparse reads it
    assert layout.timestamp_text(other) == "2026-11-24T06:30:00.000000Z"


TEXTS = [
    "",
    "queuing_system.rq_job.JobFailed: Phone number 4153518780 is blacklisted\n",
    "z" * 256,
    "z" * 257,
    "é" * 900,
]


@pytest.mark.parametrize(
    "text", TEXTS, ids=["empty", "a line", "256 bytes, stored", "257, deflated", "not ascii"]
)
def test_what_the_worker_compresses_rq_and_zlib_read_back(text):
    import fakeredis
    from rq.job import Job
    from rq.results import Result

    from queuing_system import layout

    assert zlib.decompress(layout.compressed(text.encode())) == text.encode()
    connection = fakeredis.FakeRedis()
    job = Job.create("tests.job_functions.record", connection=connection, id="1")
    connection.xadd(Result.get_key("1"), {"type": 2, "exc_string": layout.compressed_text(text)})
    assert Result.fetch_latest(job).exc_string == text
