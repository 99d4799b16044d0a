"""The tour: run every task's real scripts on a real Redis and grade them against the spec.

Each task runs its scripts in their own processes (both terminals of the two-terminal
tasks, the apps exercised over HTTP as the spec's curl examples do), compares what they
printed with `expected.py`, and the tour ends with a summary table. Exit code 0 only if
every task it ran passed.
"""

import argparse
import difflib
import faulthandler
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from ..connection import configured_url
from . import expected
from .harness import (
    SCRIPTS_ENV,
    RunningScript,
    ScriptError,
    http_get,
    run_script,
    scripts_dir,
    start_app,
    stop_all,
    wait_for,
)
from .redis_server import RedisServer, server_executable

TASKS = []
FIRST_SCRIPT = "0_redis_client.py"  # there, the directory holds the scripts
CLEANUP_DEADLINE = 60  # seconds the tour may take to stop what it started, at the very most


@dataclass
class Task:
    number: int
    title: str
    run: object


@dataclass
class Report:
    """What one task printed and how it differs from the spec."""

    commands: list = field(default_factory=list)
    output: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    def command(self, text):
        self.commands.append(text)
        self.output.append(f"$ {text}")

    def printed(self, lines, who=""):
        self.output.extend(f"{who}{line}" for line in lines)

    def expect(self, what, got, want):
        if got != want:
            diff = difflib.unified_diff(
                [str(line) for line in want],
                [str(line) for line in got],
                "expected",
                "got",
                lineterm="",
                n=1,
            )
            self.problems.append(f"{what} differs:")
            self.problems.extend(diff)

    def check(self, condition, problem):
        if not condition:
            self.problems.append(problem)


def task(number, title):
    def register(function):
        TASKS.append(Task(number, title, function))
        return function

    return register


def masked(url):
    """The URL without its password, for anything the tour prints."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def redis_cli():
    bundled = Path(server_executable()).with_name("redis-cli")
    return str(bundled) if bundled.exists() else shutil.which("redis-cli")


def script_lines(script, count):
    return [script.next_line() for _ in range(count)]


def first_id(line):
    """The job id at the end of a `... job created: ID` line (ids depend on the Redis used)."""
    tail = line.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def run_and_record(report, name, url, *args):
    report.command(f"python {name} {' '.join(args)}".strip())
    result = run_script(name, url, *args)
    lines = result.stdout.splitlines()
    report.printed(lines)
    report.check(result.returncode == 0, f"{name} exited {result.returncode}: {result.stderr}")
    return lines


def stop_and_check(report, script, code=0):
    got = script.stop(signal.SIGTERM)
    report.check(got == code, f"{script.name} exited {got} on SIGTERM: {script.stderr}")


@task(0, "a Redis server, redis-cli and dump.rdb")
def task_0(url, report):
    cli = redis_cli()
    for words, want in (
        (["ping"], "PONG"),
        (["set", "Holberton", "School"], "OK"),
        (["get", "Holberton"], "School"),
    ):
        report.command(f"redis-cli -u $REDIS_URL {' '.join(words)}")
        result = subprocess.run(
            [cli, "--no-auth-warning", "-u", url, *words], capture_output=True, text=True, timeout=10
        )
        report.printed(result.stdout.splitlines())
        report.expect(" ".join(words), result.stdout.splitlines(), [want])
    report.command("redis-server --dir <copy of .> --dbfilename dump.rdb; redis-cli get Holberton")
    with RedisServer(rdb=scripts_dir() / "dump.rdb") as server:
        value = redis.Redis.from_url(server.url, decode_responses=True).get("Holberton")
    report.printed([value])
    report.expect("dump.rdb's Holberton", [value], ["School"])


@task(1, "0_redis_client.py: connect")
def task_1(url, report):
    report.expect("stdout", run_and_record(report, "0_redis_client.py", url), [expected.CONNECTED])


@task(2, "1_redis_op.py: strings, plain calls")
def task_2(url, report):
    report.expect("stdout", run_and_record(report, "1_redis_op.py", url), expected.REDIS_OP)


@task(3, "2_redis_op_async.py: strings, async/await")
def task_3(url, report):
    report.expect("stdout", run_and_record(report, "2_redis_op_async.py", url), expected.REDIS_OP)


@task(4, "4_redis_advanced_op.py: a hash")
def task_4(url, report):
    lines = run_and_record(report, "4_redis_advanced_op.py", url)
    # Reply: 1 on a fresh database, Reply: 0 once the hash exists (as in the original).
    want = expected.ADVANCED_OP_FIRST_RUN
    if lines == expected.ADVANCED_OP_SECOND_RUN:
        want = expected.ADVANCED_OP_SECOND_RUN
    report.expect("stdout", lines, want)


@task(5, "5_subscriber.py + 5_publisher.py: pub/sub (two terminals)")
def task_5(url, report):
    report.command("python 5_subscriber.py   # terminal 1")
    subscriber = RunningScript("5_subscriber.py", url)
    try:
        subscriber.next_line()
        client = redis.Redis.from_url(url)
        wait_for(lambda: client.pubsub_numsub("holberton school channel")[0][1] >= 1)
        publisher = run_and_record(report, "5_publisher.py", url)
        report.check(subscriber.wait() == 0, "the subscriber did not exit 0")
    finally:
        subscriber.kill()
    report.printed(subscriber.output, "[subscriber] ")
    report.expect("publisher stdout", publisher, expected.PUBLISHER)
    report.expect("subscriber stdout", subscriber.output, expected.SUBSCRIBER)


def creator_then_processor(url, report, creator_name, processor_name, created_count):
    """Start the creator, then (its jobs queued) the processor; the creator exits by itself."""
    report.command(f"python {creator_name}   # terminal 1")
    creator = RunningScript(creator_name, url)
    processor = None
    try:
        script_lines(creator, created_count)
        report.command(f"python {processor_name}   # terminal 2")
        processor = RunningScript(processor_name, url)
        report.check(creator.wait() == 0, f"{creator_name} did not exit 0: {creator.stderr}")
        return creator, processor
    except BaseException:
        if processor:
            processor.kill()  # the caller stops it only when all went well
        raise
    finally:
        creator.kill()


def processor_then_creator(url, report, processor_name, creator_name):
    report.command(f"python {processor_name}   # terminal 1")
    processor = RunningScript(processor_name, url)
    report.command(f"python {creator_name}   # terminal 2")
    creator = RunningScript(creator_name, url)
    try:
        report.check(creator.wait() == 0, f"{creator_name} did not exit 0: {creator.stderr}")
    except BaseException:
        processor.kill()
        raise
    finally:
        creator.kill()
    return creator, processor


@task(6, "6_job_creator.py: one job, created before any processor runs")
def task_6(url, report):
    creator, processor = creator_then_processor(url, report, "6_job_creator.py", "6_job_processor.py", 1)
    stop_and_check(report, processor)
    report.printed(creator.output, "[creator] ")
    report.expect("creator stdout", creator.output, expected.task6_creator(first_id(creator.output[0])))


@task(7, "6_job_processor.py: processes push_notification_code")
def task_7(url, report):
    creator, processor = processor_then_creator(url, report, "6_job_processor.py", "6_job_creator.py")
    try:
        processor.next_line()
    finally:
        stop_and_check(report, processor)
    report.printed(processor.output, "[processor] ")
    report.expect("processor stdout", processor.output, expected.task7_processor())


@task(8, "7_job_creator.py: 11 jobs, progress and failures")
def task_8(url, report):
    creator, processor = creator_then_processor(
        url, report, "7_job_creator.py", "7_job_processor.py", len(expected.TASK8_DATA)
    )
    stop_and_check(report, processor)
    report.printed(creator.output, "[creator] ")
    report.problems.extend(
        expected.creator_differences(creator.output, expected.TASK8_DATA, first_id(creator.output[0]))
    )


@task(9, "7_job_processor.py: two at a time, blacklist")
def task_9(url, report):
    creator, processor = processor_then_creator(url, report, "7_job_processor.py", "7_job_creator.py")
    want = expected.task9_processor()
    try:
        script_lines(processor, len(want))
    finally:
        stop_and_check(report, processor)
    report.printed(processor.output, "[processor] ")
    report.problems.extend(expected.processor_differences(processor.output, want))


@task(10, "8_job.py: create_push_notifications_jobs (a stock `rq worker` processes it)")
def task_10(url, report):
    report.command("python 8_job.py   # terminal 1")
    creator = RunningScript("8_job.py", url)
    try:
        job_id = first_id(creator.next_line())
        command = [
            "-m",
            "rq.cli",
            "worker",
            "--burst",
            "--url",
            url,
            "--serializer",
            "json",
            "--worker-class",
            "rq.worker.SimpleWorker",
            "push_notification_code_3",
        ]
        report.command(
            "rq worker --burst --serializer json --worker-class rq.worker.SimpleWorker "
            "push_notification_code_3   # terminal 2"
        )
        worker = subprocess.run(
            [sys.executable, *command], cwd=scripts_dir(), capture_output=True, text=True, timeout=60
        )
        report.check(worker.returncode == 0, f"rq worker exited {worker.returncode}: {worker.stderr}")
        report.check(creator.wait() == 0, f"8_job.py did not exit 0: {creator.stderr}")
    finally:
        creator.kill()
    report.printed(creator.output, "[8_job] ")
    phone, _message = expected.TASK10_DATA
    report.expect(
        "8_job stdout", creator.output, [expected.created(job_id)] + expected.job_events(str(job_id), phone)
    )


@task(11, "tests/test_8_job.py: the job creation tests (fakeredis, no worker)")
def task_11(url, report):
    report.command("pytest tests/test_8_job.py")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-cov", "tests/test_8_job.py"],
        cwd=scripts_dir(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = result.stdout.strip().splitlines()
    report.printed(lines[-1:])
    report.check(result.returncode == 0, "pytest failed:\n" + result.stdout)


def curl(report, base, path, want):
    report.command(f"curl localhost:$PORT{path}")
    status, content_type, body = http_get(base + path)
    report.printed([body])
    report.expect(f"GET {path}", [status, content_type, body], [200, "application/json", want])


@task(12, "9_stock.py: the stock app")
def task_12(url, report):
    # The spec's transcript starts from untouched stock: clear the exercise's own keys.
    redis.Redis.from_url(url).delete(*(f"item.{item_id}" for item_id in range(1, 5)))
    report.command("python 9_stock.py")
    app, base = start_app("9_stock.py", url)
    try:
        curl(report, base, "/list_products", expected.PRODUCTS)
        curl(report, base, "/list_products/1", expected.product_1(4))
        curl(report, base, "/list_products/12", expected.PRODUCT_NOT_FOUND)
        curl(report, base, "/reserve_product/12", expected.PRODUCT_NOT_FOUND)
        for _ in range(4):
            curl(report, base, "/reserve_product/1", expected.reservation_confirmed(1))
        curl(report, base, "/reserve_product/1", expected.not_enough_stock(1))
        curl(report, base, "/list_products/1", expected.product_1(0))
    finally:
        stop_and_check(report, app)
    report.expect("9_stock.py stdout", app.output, [])


@task(13, "100_seat.py: seat reservations through a queue")
def task_13(url, report):
    # The spec's transcript starts from a new sale: no other seat app counted as serving it.
    redis.Redis.from_url(url).delete("seat_app:instances")
    report.command("python 100_seat.py")
    app, base = start_app("100_seat.py", url)
    try:
        curl(report, base, "/available_seats", expected.available_seats(50))
        for _ in range(3):
            curl(report, base, "/reserve_seat", expected.RESERVATION_IN_PROCESS)
        curl(report, base, "/process", expected.QUEUE_PROCESSING)
        lines = script_lines(app, 3)
        curl(report, base, "/available_seats", expected.available_seats(47))
    finally:
        stop_and_check(report, app)
    report.printed(app.output, "[100_seat] ")
    ids = sorted(first_id(line.replace(" completed", "")) for line in lines)
    report.expect("100_seat.py stdout", sorted(lines), sorted(expected.seat_completed(i) for i in ids))
    report.check(len(set(ids)) == 3 and ids[0] > 0, f"expected 3 distinct job ids, got {ids}")


def choose_redis():
    """The Redis at REDIS_URL if one answers, else a bundled one on dump.rdb (returned to stop)."""
    url = configured_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2).ping()
        return url, None
    except (redis.RedisError, OSError):
        server = RedisServer(rdb=scripts_dir() / "dump.rdb").start()
        return server.url, server


def run_task(task, url):
    report = Report()
    started = time.monotonic()
    try:
        task.run(url, report)
    except (ScriptError, subprocess.TimeoutExpired, redis.RedisError, OSError) as error:
        report.problems.append(f"{type(error).__name__}: {error}")
    return report, time.monotonic() - started


def show(task, report, seconds):
    for line in report.output:
        print(f"    {line}")
    verdict = "PASS" if not report.problems else "FAIL"
    print(f"  {verdict} ({seconds:.1f}s)")
    for problem in report.problems:
        print(f"    {problem}")
    print(flush=True)


def summary(results, total_seconds):
    print(f"{'task':>4}  {'result':6}  {'time':>6}  what")
    for task, report, seconds in results:
        verdict = "PASS" if not report.problems else "FAIL"
        print(f"{task.number:>4}  {verdict:6}  {seconds:5.1f}s  {task.title}")
    passed = sum(not report.problems for _task, report, _seconds in results)
    print(f"{passed}/{len(results)} passed in {total_seconds:.1f}s", flush=True)
    return passed == len(results)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m queuing_system",
        description=(
            "Run every task of the exercise (0-13) as its real scripts, on the Redis at "
            "REDIS_URL if one answers, else on a bundled redis-server started on dump.rdb "
            "(stopped at the end), and grade each against the spec's expected output. "
            "On a Redis of your own, the tour writes the exercise's keys (Holberton, "
            "HolbertonSchools, item.1-4, available_seats, the queues) and resets item.1-4."
        ),
    )
    parser.add_argument("--only", type=int, metavar="N", help="run task N alone")
    parser.add_argument("--from", dest="start", type=int, metavar="N", default=0, help="run tasks N to 13")
    parser.add_argument(
        "--keep-redis", action="store_true", help="leave the Redis the tour started running, to explore it"
    )
    parser.add_argument(
        "--summary", action="store_true", help="print the summary table alone, not each task's output"
    )
    parser.add_argument(
        "--scripts",
        "--dir",
        metavar="DIR",
        type=Path,
        default=scripts_dir(),
        help="the directory of the numbered scripts to grade: ours, or anyone's port with the "
        f"same file names (default: ${SCRIPTS_ENV}, else the working directory)",
    )
    args = parser.parse_args(argv)
    if not (args.scripts / FIRST_SCRIPT).is_file():
        parser.error(
            f"no {FIRST_SCRIPT} in {args.scripts.resolve()}: run from the directory "
            "of the numbered scripts, or name it with --scripts"
        )
    os.environ[SCRIPTS_ENV] = str(args.scripts.resolve())  # for the harness, and what it starts
    numbers = [task.number for task in TASKS]
    for value in (args.only, args.start):
        if value is not None and value not in numbers:
            parser.error(f"there is no task {value} (tasks are 0-13)")
    return args


def main(argv=None):
    args = parse_args(argv)
    chosen = [
        t for t in TASKS if (t.number == args.only if args.only is not None else t.number >= args.start)
    ]
    url, server = choose_redis()
    began = time.monotonic()
    results = []
    try:
        if not args.summary:
            where = "a bundled redis-server on dump.rdb" if server else "the Redis at REDIS_URL"
            print(f"Using {where}: {masked(url)}\n", flush=True)
        for index, each in enumerate(chosen, 1):
            if not args.summary:
                print(f"[{index}/{len(chosen)}] Task {each.number}: {each.title}", flush=True)
            report, seconds = run_task(each, url)
            results.append((each, report, seconds))
            if not args.summary:
                show(each, report, seconds)
        all_passed = summary(results, time.monotonic() - began)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
        # Stopping is bounded (stop_all: 5 s a script): should it ever hang, say where and end.
        faulthandler.dump_traceback_later(CLEANUP_DEADLINE, exit=True)
        try:
            stop_all()  # whatever a task interrupted by Ctrl-C or SIGTERM left running
        finally:
            if server and args.keep_redis:
                print(
                    f"\nRedis left running at {server.url} (pid {server.process.pid}); "
                    f"stop it with: kill {server.process.pid}",
                    flush=True,
                )
            elif server:
                server.close()
            faulthandler.cancel_dump_traceback_later()
    return 0 if all_passed else 1
