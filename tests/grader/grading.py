"""Running the grader as an educator does: `python -m queuing_system ...`, in a process of
its own, under a watcher that is a child subreaper: whatever the grader (or a script it
ran) left running comes to the watcher once the grader ends, is listed, and killed. No
mark in an environment finds it: the grader gives its scripts a clean one."""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]
PORTS = ROOT / "tests" / "ports"
MARK = "GRADER_TEST_RUN"  # kept in the grader's environment, for the tests that look for it there
DAEMON = "queuing-grader-corpus-daemon"  # what tests/ports/daemon's daemon calls itself
# The watcher: runs the grader, then lists and kills what it left (orphans come to a
# subreaper), and measures the largest resident size among it and all it waited for.
WATCHER = """
import ctypes, json, os, resource, signal, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
for each in (signal.SIGINT, signal.SIGTERM):
    signal.signal(each, lambda *_: None)  # a terminal's Ctrl-C is the grader's to handle
code = subprocess.call(sys.argv[3:])

def below(root):
    parents = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = open(f"/proc/{entry}/stat", "rb").read().rsplit(b")", 1)[1].split()
        except (OSError, ValueError):
            continue
        if fields[0] != b"Z":
            parents[int(entry)] = int(fields[1])
    found, frontier = [], {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
        found += frontier
    return found

deadline = time.monotonic() + 3
while below(os.getpid()) and time.monotonic() < deadline:
    time.sleep(0.05)
left = []
for pid in below(os.getpid()):
    try:
        left.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode(errors="replace"))
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
with open(sys.argv[2], "w") as out:
    json.dump(left, out)
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def processes_with(marker):
    """The pids of the processes running anywhere whose command line holds `marker`."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if marker.encode() in cmdline.read():
                    found.append(int(entry))
        except OSError:
            pass
    return found


def daemons_left():
    """The processes of tests/ports/daemon's daemon still running anywhere."""
    return processes_with(DAEMON)


def watched(command, token):
    """`command` under the watcher: (the command, where it writes what was left, its rss)."""
    left, rss = Path(f"/tmp/grader-test-{token}.left"), Path(f"/tmp/grader-test-{token}.rss")
    return [sys.executable, "-c", WATCHER, str(rss), str(left), *command], left, rss


def read_left(left, rss):
    found = json.loads(left.read_text()) if left.exists() else ["(the watcher wrote nothing)"]
    size = int(rss.read_text()) if rss.exists() else None
    left.unlink(missing_ok=True)
    rss.unlink(missing_ok=True)
    return found, size


def grade(*args, cwd=ROOT, env=None, timeout=600, measure=False, prefix=()):
    """Run the grader (under `prefix`, a command that runs another: a network namespace);
    the CompletedProcess, with .left (the command lines of what it left running, killed),
    .temporary (what it left in its own TMPDIR), .report (the JSON report, when --report
    was given) and .max_rss_kb."""
    token = uuid.uuid4().hex
    environment = {
        name: value for name, value in os.environ.items() if name not in ("REDIS_URL", "QUEUING_SCRIPTS")
    }
    environment[MARK] = token
    temporary = Path(tempfile.mkdtemp(prefix="grader-test-tmp-"))
    environment["TMPDIR"] = str(temporary)
    environment.update(env or {})
    command, left, rss = watched([sys.executable, "-m", "queuing_system", *map(str, args)], token)
    try:
        done = subprocess.run(
            [*prefix, *command], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
        )
    finally:
        done_left, size = read_left(left, rss)
        left_behind = sorted(os.listdir(temporary))
        shutil.rmtree(temporary, ignore_errors=True)
    done.left = done_left
    done.temporary = left_behind
    done.max_rss_kb = size if measure else None
    if "--report" in args:
        report = Path(str(args[list(args).index("--report") + 1]))
        done.report = json.loads(report.with_name(report.name + ".json").read_text())
    return done


def verdicts(report):
    """{(port, task): the task's JSON} of a report."""
    return {(port["name"], task["number"]): task for port in report["ports"] for task in port["tasks"]}


def headlines(task):
    return [problem["headline"] for problem in task["problems"]]


def once_per_run(tmp_path_factory, name, make):
    """make(where) once for the whole pytest run, however many xdist workers need it: the
    first makes it under a lock, the others read it (xdist_group marks do not keep a module
    on one worker here). make returns {name: a CompletedProcess from grade()}."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    saved = shared / f"{name}-{os.environ.get('PYTEST_XDIST_TESTRUNUID', 'solo')}.json"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not saved.exists():
            made = make(shared / name)
            kept = {key: {k: v for k, v in vars(done).items() if k != "args"} for key, done in made.items()}
            saved.write_text(json.dumps(kept, default=str))
    return {key: SimpleNamespace(**done) for key, done in json.loads(saved.read_text()).items()}
