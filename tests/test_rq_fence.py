"""What our worker takes of RQ: its public API and its data layout, not its internals.
tests/test_layout.py holds the layout (an RQ release that moved it fails there, by name);
here, the pin, the names the layout is built from, and no private name nor replaced module
attribute of RQ or redis-py in the package (the apps' fenced module, redis_speedups.py, and
its drift test, tests/test_redis_fence.py, aside)."""

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import fakeredis
import rq
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.results import Result
from rq.worker import SimpleWorker

import queuing_system
from queuing_system import layout
from queuing_system.events import parse, stream_key
from queuing_system.grader.harness import scripts_dir
from queuing_system.jobs import create_jobs, job_queue

TESTED_RELEASES = ("3.0",)  # RQ minor releases the whole suite passed on
PACKAGE = Path(queuing_system.__file__).parent
FENCED = {"redis_speedups.py", "round_trips.py"}  # the web server's, with their drift test


def test_the_installed_rq_is_a_tested_release():
    release = ".".join(rq.__version__.split(".")[:2])
    assert release in TESTED_RELEASES, (
        f"RQ {rq.__version__} is installed; our worker is tested on RQ {', '.join(TESTED_RELEASES)} "
        "only. Run tests/test_layout.py on it: if it passes, run the whole suite and add the "
        "release to TESTED_RELEASES and to the pin in pyproject.toml"
    )


def test_the_layouts_keys_are_rqs_own(fake_redis):
    queue = Queue("q", connection=fake_redis)
    job = Job.create("tests.job_functions.record", connection=fake_redis, id="7", origin="q")
    keys = layout.QueueKeys("q")
    assert (keys.queue, keys.intermediate) == (queue.key, queue.intermediate_queue_key)
    for ours, registry in [
        (keys.started, StartedJobRegistry),
        (keys.finished, FinishedJobRegistry),
        (keys.failed, FailedJobRegistry),
        (keys.scheduled, ScheduledJobRegistry),
    ]:
        assert ours == registry("q", connection=fake_redis).key
    assert keys.first_seen("7") == queue.intermediate_queue.get_first_seen_key("7")
    execution = Execution("e", "7", fake_redis, worker_name="w")
    assert layout.execution_key(execution.composite_key) == execution.key
    assert layout.executions_key("7") == job.execution_registry.key
    assert layout.WorkerKeys("w").executions == execution.worker_executions_key
    assert (layout.job_key("7"), layout.dependents_key("7"), layout.dependencies_key(job)) == (
        job.key,
        job.dependents_key,
        job.dependencies_key,
    )
    assert layout.results_key("7") == Result.get_key("7")
    worker = SimpleWorker([queue], connection=fake_redis, name="w", prepare_for_work=False)
    assert layout.WorkerKeys("w").worker == worker.key


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name not in FENCED and "grader" not in path.parts:
            yield path, ast.parse(path.read_text())


def test_a_step_reads_every_field_rqs_restore_reads():
    # A step gives the worker the values of layout.JOB_FIELDS, not the whole hash: a field
    # RQ's restore (or its to_dict, which writes what restore reads) names that the list
    # lacks would be lost to every job our worker runs.
    restore = inspect.getsource(Job.restore)
    read = set(re.findall(r"obj(?:\.get\(|\[)'(\w+)'", restore)) | set(re.findall(r"'(\w+)' in obj", restore))
    assert read, "RQ's restore no longer reads `obj`: look at it again, then here"
    written = Job.create(
        "tests.job_functions.record",
        connection=fakeredis.FakeRedis(),
        meta={"x": 1},
        result_ttl=5,
        failure_ttl=5,
        ttl=5,
        timeout=5,
        on_success=rq.Callback(print, timeout=3),
        on_failure=rq.Callback(print, timeout=3),
        on_stopped=rq.Callback(print, timeout=3),
        retry=rq.Retry(max=2, interval=[1, 2]),
        depends_on=["parent"],
        description="d",
        group_id="g",
    ).to_dict()
    ours = {field.decode() for field in layout.JOB_FIELDS}
    assert read - ours == set(), "RQ's restore reads fields a step does not give"
    assert set(written) - ours == set(), "RQ's to_dict writes fields a step does not give"


def test_no_private_name_of_another_module_is_read():
    """`x._name` only on our own objects (self, cls); Python's documented os._exit and
    namedtuple's _asdict aside."""
    found = [
        f"{path.relative_to(PACKAGE)}:{node.lineno} .{node.attr}"
        for path, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and node.attr not in ("_asdict", "_exit")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert not found, f"private names read: {found}"


def test_no_module_attribute_of_rq_or_redis_is_replaced():
    found = []
    for path, tree in modules():
        imported = {  # the names bound to RQ's and redis-py's modules and objects
            alias.asname or alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            and any(
                name.split(".")[0] in ("rq", "redis")
                for name in (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                )
            )
            for alias in node.names
        }
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                    if target.value.id in imported and target.value.id not in ("self", "cls"):
                        found.append(
                            f"{path.relative_to(PACKAGE)}:{node.lineno} {target.value.id}.{target.attr}"
                        )
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
                first = node.args[0]
                if isinstance(first, ast.Name) and first.id in imported:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} setattr({first.id}, ...)")
    assert not found, f"module attributes replaced: {found}"


def test_a_stock_rq_worker_given_our_job_class_refuses_a_foreign_job(redis_url, redis_binary):
    """The allowlist is a custom job class, as RQ documents them: `rq worker --job-class`."""
    queue = job_queue("only_record", redis_binary)
    foreign = queue.enqueue("os.getcwd", failure_ttl=600)
    [ours] = create_jobs(queue, "tests.job_functions.record", [{"name": "ours"}])
    done = subprocess.run(
        [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", redis_url, "--serializer", "json"]
        + ["--worker-class", "rq.worker.SimpleWorker", "--job-class", "tests.job_functions.OnlyRecord"]
        + ["only_record"],
        cwd=scripts_dir(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert ours.get_status() == "finished" and redis_binary.lrange("test:ran", 0, -1) == [b"ours"]
    assert foreign.get_status() == "failed"
    assert (
        "Job refused: 'os.getcwd' is not a job function of queue only_record"
        in foreign.latest_result().exc_string
    )
    kinds = [parse(fields).kind for _entry, fields in redis_binary.xrange(stream_key("only_record"))]
    assert kinds == ["completed"]  # ours, by its callback; the foreign job named none
