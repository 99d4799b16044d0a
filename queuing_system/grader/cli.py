"""`python -m queuing_system`: the tour of this repository, or the grading of anyone's ports.

With no --dir it grades the scripts of the working directory (the tour); with --dir, the
port(s) named: a folder of numbered scripts is one port, a folder of such folders a
class. Each port is graded by a process of its own (port.py), a few at a time, in
namespaces of its own where Linux allows (isolation.py). The exit code is 0 only if every
graded task passed; 2 for a command the grader cannot run; 130 on Ctrl-C.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from .isolation import (
    NAMESPACES_ENV,
    become_subreaper,
    children,
    descendants,
    kill_all,
    namespaces_work,
    unshare_command,
)
from .port import copy_port
from .reports import write_reports
from .sandbox import BWRAP, NOT_SANDBOXED, sandbox_works
from .tasks import TASKS, TEST_FILES
from .verdicts import FAIL, PASS, SKIP, Problem, TaskResult, class_table, counted, port_table, task_block

SCRIPTS_ENV = "QUEUING_SCRIPTS"  # the directory the tour grades, if not the working directory
PORT_DEADLINE = 900  # seconds one port's grading may take, at the very most
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # where `queuing_system` can be imported from
KNOWN_FILES = {name for each in TASKS for name in each.files} | set(TEST_FILES)
PARTNER_FILES = ("5_publisher.py", "5_subscriber.py")  # this repository's, partners known to be right


def masked(url):
    """The URL without its password, for anything printed."""
    parts = urlsplit(url)
    if parts.password:
        return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))
    return url


def task_numbers(text):
    """`5`, `6-9`, `1,2,12-13` -> [numbers]; ValueError if any is not a task."""
    known = [each.number for each in TASKS]
    chosen = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        numbers = range(int(low), int(high or low) + 1)
        if not numbers or any(number not in known for number in numbers):
            raise ValueError(part)
        chosen.extend(numbers)
    return sorted(set(chosen))


def is_port(path):
    return any((path / name).is_file() for name in KNOWN_FILES)


def find_ports(parser, folders):
    """[(name, path)]: each folder that holds the exercise's files, or each sub-folder that does."""
    found = []
    for folder in folders:
        folder = folder.resolve()
        if not folder.is_dir():
            parser.error(f"no such directory: {folder}")
        if is_port(folder):
            found.append(folder)
            continue
        inside = sorted(sub for sub in folder.iterdir() if sub.is_dir() and is_port(sub))
        if not inside:
            parser.error(
                f"no numbered scripts in {folder} (0_redis_client.py ... 100_seat.py, dump.rdb), nor folders "
                "holding them: run from the directory of the numbered scripts, or name it with --dir"
            )
        found.extend(inside)
    names = [path.name for path in found]
    return [
        (path.name if names.count(path.name) == 1 else f"{path.parent.name}/{path.name}", path)
        for path in found
    ]


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m queuing_system",
        description=(
            "Grade the exercise's tasks (0-13) by running each port's real scripts, each task on a "
            "redis-server of its own (started and stopped by the grader), unless REDIS_URL is set or "
            "--redis-url is given. Without --dir it grades the working directory (the tour)."
        ),
    )
    parser.add_argument("--only", metavar="TASKS", help="grade these tasks: 5, 6-9, 1,2,12-13")
    parser.add_argument("--from", dest="start", type=int, metavar="N", help="grade tasks N to 13")
    parser.add_argument(
        "--dir",
        "--scripts",
        dest="dirs",
        metavar="DIR",
        type=Path,
        action="append",
        help="a port to grade (its numbered scripts), or a folder of ports (a class); may be repeated "
        f"(default: ${SCRIPTS_ENV}, else the working directory)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="grade the SPEC byte for byte, not the exercise"
    )
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        help="grade on this Redis (also REDIS_URL): its database is emptied before each task, so it must "
        "be empty at the start, or --flush given",
    )
    parser.add_argument("--flush", action="store_true", help="allow emptying a Redis named that holds keys")
    parser.add_argument(
        "--jobs", type=int, metavar="N", help="ports graded at once (default: one per CPU, 4 at most)"
    )
    parser.add_argument(
        "--report", metavar="PATH", help="write PATH.json and PATH.xml (JUnit) of every verdict"
    )
    parser.add_argument("--summary", action="store_true", help="print the table(s) alone")
    parser.add_argument(
        "--trust-ports",
        action="store_true",
        help="grade a folder of ports even where the grader cannot sandbox their scripts (no bwrap)",
    )
    args = parser.parse_args(argv)
    args.parser = parser
    try:
        numbers = task_numbers(args.only) if args.only else [each.number for each in TASKS]
    except ValueError:
        parser.error(f"there is no task {args.only} (tasks are 0-13)")
    if args.start is not None:
        if args.start not in numbers:
            parser.error(f"there is no task {args.start} (tasks are 0-13)")
        numbers = [number for number in numbers if number >= args.start]
    args.numbers = numbers
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    args.ports = find_ports(parser, args.dirs or [Path(os.environ.get(SCRIPTS_ENV, "."))])
    args.class_folder = len(args.ports) > 1 or any(
        not is_port(folder.resolve()) for folder in args.dirs or []
    )
    args.redis_url = args.redis_url or os.environ.get("REDIS_URL")
    if args.redis_url:
        check_named_redis(parser, args.redis_url, args.flush)
    return args


def check_named_redis(parser, url, flush):
    """A Redis named must answer, and hold nothing the grader's FLUSHDB would destroy."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
        keys = client.dbsize()
    except (redis.RedisError, OSError, ValueError) as error:
        parser.error(
            f"nothing answers at REDIS_URL={masked(url)} ({error}): start that Redis, or unset REDIS_URL to "
            "let the grader start its own"
        )
    if keys and not flush:
        parser.error(
            f"the database at {masked(url)} holds {keys} keys, and the grader empties it before each task: "
            "name an empty database (e.g. redis://host:6379/15), or pass --flush to let it"
        )


def strays(gradings):
    """What came to this process (a subreaper) from a port's grading that died: every
    process under a child of ours that is not a live grading."""
    found = []
    for child in children(os.getpid()):
        if child not in gradings:
            found += [child, *descendants(child)]
    return found


def partners_copy(work):
    """The partners known to be right, copied for their sandboxes: the grader's own creator,
    and this repository's scripts with their package (where the grader runs from its
    repository, as the README installs it)."""
    folder = work / "partners"
    folder.mkdir()
    shutil.copy(Path(__file__).with_name("grader_creator.py"), folder / "grader_creator.py")
    if all((PACKAGE_ROOT / name).is_file() for name in PARTNER_FILES):
        for name in PARTNER_FILES:
            shutil.copy(PACKAGE_ROOT / name, folder / name)
        copy_port(PACKAGE_ROOT / "queuing_system", folder, "queuing_system")
    for path in [folder, *folder.iterdir()]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return folder


def read_lines(fd, into):
    with os.fdopen(fd, "rb") as pipe:
        for line in pipe:
            into.append(line)


class Grading:
    """The ports' grading processes, a few at a time, and stopping them all at once."""

    def __init__(self, args, named, network, pid_namespace, sandboxed):
        self.args = args
        self.named = named
        self.network = network
        self.pid_namespace = pid_namespace
        self.sandboxed = sandboxed
        self.work = Path(tempfile.mkdtemp(prefix="queuing-grader-run-"))
        self.partners = partners_copy(self.work)
        self.running = {}  # token -> Popen
        self.lock = threading.Lock()
        self.stopped_by = None  # the signal that stopped the grading (Ctrl-C, a CI job cancelled)

    def command(self, path, result_fd, live):
        prefix = unshare_command(self.network) if self.pid_namespace else []
        command = [*prefix, sys.executable, "-m", "queuing_system.grader.port", "--source", str(path)]
        command += ["--result-fd", str(result_fd), "--work", str(self.work)]
        command += ["--tasks", ",".join(map(str, self.args.numbers))]
        command += ["--app-lock", str(self.work / "apps.lock")]
        command += ["--strict"] * self.args.strict + ["--network"] * self.network + ["--live"] * live
        command += ["--sandbox"] * self.sandboxed
        command += ["--partners", str(self.partners)]
        if self.named:
            command += ["--redis-url", self.named]
        return command

    def grade(self, name, path, live):
        token = uuid.uuid4().hex[:12]
        env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
        began = time.monotonic()
        with self.lock:
            if self.stopped_by:
                return None
            log = None if live else open(self.work / f"{token}.log", "w+")
            results, sent = os.pipe()  # the port's verdicts come down it, a JSON line after each task
            try:
                process = subprocess.Popen(
                    self.command(path, sent, live),
                    cwd=PACKAGE_ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    pass_fds=(sent,),
                )
            finally:
                os.close(sent)
            self.running[token] = process
        if self.stopped_by:  # the stop came as it started: stop.running did not hold it yet
            self.stop(self.stopped_by, None)
        lines = []
        reader = threading.Thread(target=read_lines, args=(results, lines), daemon=True)
        reader.start()
        try:
            process.wait(PORT_DEADLINE)
        except subprocess.TimeoutExpired:
            pass
        finally:
            self.end(token)
        reader.join(5)
        port = {"name": name, "path": path, "results": [], "error": "", "seconds": time.monotonic() - began}
        data = {}
        for line in reversed(lines):  # the last whole line the port's grading sent
            try:
                data = json.loads(line)
                break
            except ValueError:
                continue
        port["results"] = [TaskResult.from_json(item) for item in data.get("results", [])]
        port["error"] = data.get("error", "")
        if not data.get("finished") and not self.stopped_by:
            port["error"] = self.stopped_early(process.returncode, data.get("running"), log, port["results"])
        if port["error"]:
            done = {result.number for result in port["results"]}
            for each in TASKS:
                if each.number in self.args.numbers and each.number not in done:
                    stopped = TaskResult(each.number, each.title, list(each.files), verdict=FAIL)
                    stopped.problems = [Problem(f"not graded: {port['error']}")]
                    port["results"].append(stopped)
            port["results"].sort(key=lambda result: result.number)
        if log:
            log.close()
        return port

    def stopped_early(self, code, running, log, results):
        """Why a port's grading ended before its last task; the task it ran fails for it."""
        if code is None:
            how = f"stopped after {PORT_DEADLINE // 60} minutes"
        elif code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            how = f"killed by {signal.Signals(number).name if number in signal.valid_signals() else number}"
        else:
            how = f"exit {code}"
        said = ""
        if log:
            log.seek(0)
            said = " / ".join(line.strip() for line in log.read().splitlines()[-3:])
        if running is None:
            return f"its grading stopped ({how}){': ' + said if said else ''}"
        each = next(each for each in TASKS if each.number == running)
        blamed = TaskResult(each.number, each.title, list(each.files), verdict=FAIL)
        blamed.problems = [
            Problem(
                f"the grader's process for this port was {how} while it ran this task: does "
                f"{' or '.join(each.files)} signal its parent process (os.getppid())?"
            )
        ]
        results.append(blamed)
        return f"its grading was {how} in task {running}"

    def end(self, token):
        """Stop one port's grading and everything it started: the namespace goes with
        unshare; elsewhere, whatever carries the port's mark is killed."""
        with self.lock:
            process = self.running.pop(token, None)
        if process and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            process.wait()
        with self.lock:  # what a port's grading left as it died came to us: ours are the live gradings
            ours = {process.pid for process in self.running.values()}
            kill_all(lambda: [pid for pid in strays(ours)])

    def stop(self, signum, frame):
        """The handler of SIGINT and SIGTERM. It raises nothing into the code it interrupts
        (an exception landing inside Popen.wait can leave its lock held, and the cleanup's
        own wait then hangs): it takes no lock, records the stop and SIGKILLs every port's
        grading, whose waits then return; main() cleans up after them."""
        self.stopped_by = signum
        for process in list(self.running.values()):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def kill_everything(self):
        kill_all(lambda: descendants(os.getpid()))


def header(args, named, network, pid_namespace, sandboxed):
    mode = (
        "the SPEC, byte for byte (--strict)"
        if args.strict
        else "the exercise (--strict: the SPEC, byte for byte)"
    )
    what = args.ports[0][1] if len(args.ports) == 1 else f"{len(args.ports)} ports"
    tasks = ", ".join(map(str, args.numbers)) if len(args.numbers) < len(TASKS) else "0-13"
    lines = [] if sandboxed else [NOT_SANDBOXED]
    lines.append(f"Grading {what}, tasks {tasks}, by {mode}.")
    if sandboxed:
        lines.append(
            "Each script runs in a bubblewrap sandbox of its own: the system and its port's copy read-only, "
            "its own /tmp, PID namespace and limits, no view of the rest."
        )
    else:
        lines.append(f"The scripts run as plain processes of this user ({why_not_sandboxed()}).")
    if named:
        lines.append(
            f"Using the Redis at REDIS_URL ({masked(named)}): its database is emptied before "
            "each task; ports one at a time; a script may connect to it and its app's port only."
        )
    elif network:
        lines.append(
            "Each task runs on a redis-server of its own at localhost:6379, its app at localhost:1245, in a "
            "network namespace of the port's own."
        )
    else:
        lines.append(
            "Each task runs on a redis-server of its own on a free port (no network namespace here: unshare "
            "is not allowed); a script may connect to it and its app's port only."
        )
    return lines


def why_not_sandboxed():
    if os.environ.get(NAMESPACES_ENV) == "0":
        return f"{NAMESPACES_ENV}=0"
    if not shutil.which(BWRAP):
        return "bwrap is not installed: apt-get install bubblewrap"
    return "bwrap cannot make a sandbox here: user namespaces are not allowed"


def print_port(port, args, index, count):
    results = port["results"]
    print(
        f"[{index}/{count}] {port['name']}: {counted(results)} in {port['seconds']:.1f}s"
        + (f" ({port['error']})" if port["error"] else ""),
        flush=True,
    )
    if args.summary:
        return
    missing = []  # a port of some tasks only: its missing files, in one line
    for result in results:
        headlines = [problem.headline for problem in result.problems]
        if headlines and all(headline.startswith("missing ") for headline in headlines):
            missing.extend(headline.removeprefix("missing ") for headline in headlines)
        elif result.verdict in (FAIL, SKIP) or result.advice:
            print("\n".join(task_block(result, transcript=False)), flush=True)
    if missing:
        print(f"  missing (their tasks fail): {', '.join(missing)}\n", flush=True)


def main(argv=None):
    args = parse_args(argv)
    named = args.redis_url
    network = not named and namespaces_work(network=True)
    pid_namespace = network or namespaces_work(network=False)
    sandboxed = sandbox_works(network if pid_namespace else None)
    single = len(args.ports) == 1
    if not sandboxed and args.class_folder and not args.trust_ports:
        args.parser.error(
            f"the grader cannot sandbox the scripts here ({why_not_sandboxed()}): it grades a folder of "
            "ports only if you trust every one of them (--trust-ports)"
        )
    lines = header(args, named, network, pid_namespace, sandboxed)
    if not args.summary:
        print("\n".join(lines) + "\n", flush=True)
    elif not sandboxed:
        print(NOT_SANDBOXED, flush=True)
    become_subreaper()
    grading = Grading(args, named, network, pid_namespace, sandboxed)
    jobs = 1 if named else args.jobs or min(4, os.cpu_count() or 1)
    began = time.monotonic()
    ports = []

    previous = {stop: signal.signal(stop, grading.stop) for stop in (signal.SIGINT, signal.SIGTERM)}
    try:
        if single:
            name, path = args.ports[0]
            ports.append(grading.grade(name, path, live=not args.summary))
        else:
            with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
                futures = [pool.submit(grading.grade, name, path, False) for name, path in args.ports]
                for index, future in enumerate(concurrent.futures.as_completed(futures), 1):
                    ports.append(future.result())
                    if ports[-1] and not grading.stopped_by:
                        print_port(ports[-1], args, index, len(futures))
    finally:
        grading.kill_everything()  # the namespaces are gone already; elsewhere, what a port left
        shutil.rmtree(grading.work, ignore_errors=True)  # every temporary file of the run is in it
        for stop, handler in previous.items():
            signal.signal(stop, handler)
    if grading.stopped_by:
        print("\nInterrupted: every script the grader started is stopped.", file=sys.stderr, flush=True)
        return 128 + grading.stopped_by  # the shell's: 130 for Ctrl-C, 143 for SIGTERM
    ports = [port for port in ports if port]
    seconds = time.monotonic() - began
    order = {path: index for index, (_name, path) in enumerate(args.ports)}
    ports.sort(key=lambda port: order[port["path"]])
    if single:
        port = ports[0]
        if port["error"]:
            print(f"The grading of {port['path']} stopped before its end: {port['error']}", flush=True)
        print("\n".join(port_table(port["results"], seconds)), flush=True)
    else:
        print("\n" + "\n".join(class_table(ports, args.numbers, seconds)), flush=True)
    if args.report:
        json_path, xml_path = write_reports(args.report, ports, args.strict, seconds, sandboxed)
        print(f"Reports: {json_path} and {xml_path}", flush=True)
    passed = all(result.verdict == PASS for port in ports for result in port["results"])
    return 0 if passed and all(not port["error"] for port in ports) else 1
