"""Running the grader as an educator does: `python -m queuing_system ...`, in a process of
its own, with a mark of the test's in its environment to find anything it left running."""

import fcntl
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]
PORTS = ROOT / "tests" / "ports"
MARK = "GRADER_TEST_RUN"  # inherited by everything the grader starts, double forks included
# Measures the grader's memory: the largest resident size among it and all it waited for.
MEASURED = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def processes_marked(token):
    wanted = f"{MARK}={token}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as environ:
                    if wanted in environ.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                pass
    return found


def left_running(token, within=3):
    """The processes still marked `token` after `within` seconds (they may take a moment to go)."""
    deadline = time.monotonic() + within
    while (found := processes_marked(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def grade(*args, cwd=ROOT, env=None, timeout=600, measure=False):
    """Run the grader; the CompletedProcess, with .left (what it left running), .report
    (the JSON report, when --report was given) and .max_rss_kb (when measured)."""
    token = uuid.uuid4().hex
    environment = {
        name: value for name, value in os.environ.items() if name not in ("REDIS_URL", "QUEUING_SCRIPTS")
    }
    environment[MARK] = token
    environment.update(env or {})
    command = [sys.executable, "-m", "queuing_system", *map(str, args)]
    rss_file = Path(f"/tmp/grader-test-{token}.rss")
    if measure:
        command = [sys.executable, "-c", MEASURED, str(rss_file), *command]
    try:
        done = subprocess.run(
            command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
        )
    finally:
        done_left = left_running(token)
    done.left = done_left
    done.max_rss_kb = int(rss_file.read_text()) if measure else None
    rss_file.unlink(missing_ok=True)
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
