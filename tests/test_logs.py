"""The scripts' stderr through `logging` (issue 36): plain words on a terminal, a timestamp
and level elsewhere, JSON when asked, the apps' access log when asked; a job's failure
says where it raised; every --help names QUEUING_DEBUG. stdout keeps the spec's lines."""

import contextlib
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from queuing_system.grader.harness import http_get, port_open, processing, script_env, scripts_dir, wait_for
from queuing_system.grader.redis_server import free_port
from queuing_system.jobs import create_jobs, job_queue
from queuing_system.worker.pool import drain

ROOT = Path(__file__).resolve().parent.parent
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
QUEUE = "push_notification_code"
SCRIPTS = sorted(path.name for path in ROOT.glob("[0-9]*.py"))


@contextlib.contextmanager
def processor(url, *args, stderr=subprocess.PIPE, **env):
    """6_job_processor.py running, stopped by SIGTERM at the end (killed if it will not)."""
    process = subprocess.Popen(
        [sys.executable, "6_job_processor.py", *args],
        cwd=scripts_dir(),
        env=script_env(url, **env),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_off_a_terminal_each_line_has_a_timestamp_and_level(redis_url):
    with processor(redis_url, QUEUING_LOG_FORMAT="auto") as running:
        line = running.stderr.readline().decode()
    assert running.returncode == 0
    assert re.fullmatch(f"{STAMP} INFO {re.escape(processing(QUEUE, 1))}", line), line


def test_on_a_terminal_the_lines_are_the_words_alone(redis_url):
    terminal, other_end = pty.openpty()
    try:
        with processor(redis_url, stderr=other_end, QUEUING_LOG_FORMAT="auto") as running:
            os.close(other_end)
            line = b""
            while not line.endswith(b"\n"):
                line += os.read(terminal, 1)
    finally:
        os.close(terminal)
    assert running.returncode == 0
    assert line.decode().replace("\r\n", "\n") == processing(QUEUE, 1)


@pytest.mark.parametrize("how", [["--log-format", "json"], []])
def test_json_lines_when_asked(how, redis_url):
    env = {"QUEUING_LOG_FORMAT": "json"} if not how else {}
    with processor(redis_url, *how, **env) as running:
        record = json.loads(running.stderr.readline())
    assert running.returncode == 0
    assert record["level"] == "info" and record["message"] == processing(QUEUE, 1).rstrip("\n")
    assert re.fullmatch(STAMP, record["time"]) and record["pid"] > 0


def test_the_access_log_is_off_by_default_and_common_log_format_when_asked(redis_url, start_app, scripts):
    quiet, base = start_app("9_stock.py", redis_url)
    assert http_get(base + "/list_products/1")[0] == 200
    assert quiet.stop() == 0
    assert quiet.stderr == f"Listening on {base}\n"
    port = free_port()
    app = scripts("9_stock.py", redis_url, "--access-log", PORT=str(port))
    wait_for(lambda: port_open(port))
    base = f"http://127.0.0.1:{port}"
    product = http_get(base + "/list_products/1")[2]
    nowhere = http_get(base + "/nowhere?x=1")[2]
    assert app.stop() == 0
    clf = r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET %s HTTP/1\.1" %s'
    lines = sorted(app.stderr.splitlines()[1:])  # two server processes: in either order
    assert len(lines) == 2
    assert re.fullmatch(clf % ("/list_products/1", f"200 {len(product)}"), lines[0]), lines
    assert re.fullmatch(clf % (r"/nowhere\?x=1", f"404 {len(nowhere)}"), lines[1]), lines
    assert app.output == []  # stdout keeps the spec's lines: none for this app


def test_a_jobs_own_bug_is_said_in_one_line_with_where_it_raised(redis_binary, capsys):
    queue = job_queue("bugs", redis_binary)
    create_jobs(queue, "tests.job_functions.misspelt", [{}])
    drain({"bugs": "tests.job_functions.misspelt"}, redis_binary)
    said = [line for line in capsys.readouterr().err.splitlines() if "failed" in line]
    assert len(said) == 1
    assert re.search(
        r"job 1 failed: NameError\(\"name 'phone_numbr' is not defined\"\) at tests/job_functions\.py:\d+$",
        said[0],
    ), said


@pytest.mark.parametrize(
    "command",
    [[name] for name in SCRIPTS] + [["-m", "queuing_system.web.dashboard"], ["-m", "queuing_system.health"]],
)
def test_every_help_names_queuing_debug(command):
    shown = subprocess.run(
        [sys.executable, *command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert shown.returncode == 0, shown.stderr
    assert "QUEUING_DEBUG" in shown.stdout, command
