"""The tour (`python -m queuing_system`): every task of this repository graded, by the
exercise and by the SPEC; mistakes fail their own task; a stop stops everything."""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import uuid

import pytest
import redis
from grader.grading import ROOT, grade, read_left, watched

from queuing_system.grader.harness import RunningScript, started, stop_all

VERDICT = re.compile(r"^ +(\d+)  (PASS|FAIL|SKIP) ", re.MULTILINE)


def verdicts(output):
    return {int(number): verdict for number, verdict in VERDICT.findall(output)}


def test_the_whole_tour_passes_on_a_redis_of_its_own_and_leaves_nothing_running():
    result = grade()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.temporary == []  # every temporary file of the run removed
    assert "Each task runs on a redis-server of its own" in result.stdout
    assert "Each script runs in a bubblewrap sandbox of its own" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("14/14 passed in ")
    assert result.left == []


def test_the_whole_tour_passes_under_strict_the_spec_byte_for_byte():
    result = grade("--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().splitlines()[-1].startswith("14/14 passed in ")


def test_a_tour_on_the_redis_at_redis_url_uses_it_and_leaves_its_database_empty(redis_url):
    result = grade("--only", "4", env={"REDIS_URL": redis_url})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Using the Redis at REDIS_URL" in result.stdout
    assert redis.Redis.from_url(redis_url).dbsize() == 0


def test_a_redis_named_that_holds_keys_is_refused_unless_flush_is_given(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.set("precious", "data")
    refused = grade("--only", "1", env={"REDIS_URL": redis_url})
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1].endswith(
        f"error: the database at {redis_url} holds 1 keys, and the grader empties it before each "
        "task: name an "
        "empty database (e.g. redis://host:6379/15), or pass --flush to let it"
    )
    assert client.get("precious") == b"data"
    assert grade("--only", "1", "--flush", env={"REDIS_URL": redis_url}).returncode == 0


def test_a_redis_url_where_nothing_answers_is_refused_in_one_line():
    result = grade("--only", "1", env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 2
    assert "error: nothing answers at REDIS_URL=redis://127.0.0.1:1/0" in result.stderr.splitlines()[-1]


def test_summary_prints_the_table_alone():
    result = grade("--summary", "--only", "4")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3  # header, task 4, total
    assert lines[1].split()[:2] == ["4", "PASS"]
    assert lines[2].startswith("1/1 passed in ")


MAIN = 'if __name__ == "__main__":\n'


def hang(text):
    """The script waits for ever before it does anything."""
    assert MAIN in text
    return text.replace(MAIN, f"{MAIN}    __import__('time').sleep(3600)\n", 1)


def crash(text):
    assert MAIN in text
    return text.replace(MAIN, f"{MAIN}    raise KeyError('schools')\n", 1)


def typo(text):
    assert "About to send" in text
    return text.replace("About to send", "About to sent")


def test_a_copy_of_ours_with_four_mistakes_fails_exactly_their_tasks_each_saying_why(tmp_path):
    copy = tmp_path / "student"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "ports"))
    for name, change in (("1_redis_op.py", hang), ("2_redis_op_async.py", crash), ("5_publisher.py", typo)):
        (copy / name).write_text(change((copy / name).read_text()))
    (copy / "4_redis_advanced_op.py").unlink()
    result = grade("--dir", copy)
    assert result.returncode == 1
    assert {number for number, verdict in verdicts(result.stdout).items() if verdict == "FAIL"} == {
        2,
        3,
        4,
        5,
    }
    assert len(verdicts(result.stdout)) == 14
    out = result.stdout
    assert "    1_redis_op.py was still running 20s after it started: stopped." in out
    assert "    missing 4_redis_advanced_op.py" in out
    assert "      +About to sent KILL_SERVER" in out and "      -About to send KILL_SERVER" in out
    # The crash: its exception line first, the diff, then its stderr's last lines.
    crashed = out.index("    2_redis_op_async.py exited 1: KeyError: 'schools'")
    diff = out.index("      +++ 2_redis_op_async.py", crashed)
    stderr = out.index("      2_redis_op_async.py's stderr (the last lines):", diff)
    assert crashed < diff < stderr
    assert result.left == []


def test_a_directory_without_any_script_is_refused_in_one_line(tmp_path):
    result = grade("--only", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(
        f"error: no numbered scripts in {tmp_path.resolve()} (0_redis_client.py ... 100_seat.py, "
        "dump.rdb), nor "
        "folders holding them: run from the directory of the numbered scripts, or name it with --dir"
    )


def start_tour(temporary, *args):
    token = uuid.uuid4().hex
    env = {name: value for name, value in os.environ.items() if name not in ("REDIS_URL", "QUEUING_SCRIPTS")}
    env["TMPDIR"] = str(temporary)
    command, left, rss = watched([sys.executable, "-m", "queuing_system", *args], token)
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's process group of its own
    )
    return process, (left, rss)


@pytest.mark.parametrize(
    "sig, code, after",  # a stop once that many tasks have ended: in pub/sub, jobs, an app
    [(signal.SIGINT, 130, 1), (signal.SIGTERM, 143, 3), (signal.SIGINT, 130, 7)],
)
def test_a_stop_to_the_tours_process_group_stops_everything_it_started(tmp_path, sig, code, after):
    process, token = start_tour(tmp_path, "--from", "5")
    try:
        ended = 0
        for line in process.stdout:
            ended += bool(re.match(r"  (PASS|FAIL) \(", line))
            if ended == after:
                break
        os.killpg(process.pid, sig)  # as a terminal's Ctrl-C does (or a CI job's cancel)
        _out, err = process.communicate(timeout=90)
    finally:
        if process.poll() is None:  # never leave it behind, even when the test fails
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == code, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert read_left(*token)[0] == []
    assert os.listdir(tmp_path) == []  # every temporary file of the run removed, though it was stopped


@pytest.mark.parametrize("args", [["--only", "14"], ["--from", "-1"], ["--only", "x"], ["--jobs", "0"]])
def test_a_task_that_does_not_exist_is_refused(args):
    result = grade(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_help_documents_the_options():
    result = grade("--help")
    for option in (
        "--only",
        "--from",
        "--summary",
        "--dir",
        "--strict",
        "--redis-url",
        "--flush",
        "--jobs",
        "--report",
    ):
        assert option in result.stdout


@pytest.mark.parametrize("where", ["__init__", "start"])  # making a reader thread, starting it
@pytest.mark.parametrize("readers_before", [0, 1])
def test_a_script_started_as_ctrl_c_came_is_still_stopped(redis_url, monkeypatch, where, readers_before):
    # The harness the tests share: a Ctrl-C while RunningScript made its reader threads left
    # it half made, and stopping it then raised.
    original = getattr(threading.Thread, where)
    calls = []

    def until_ctrl_c(thread, *args, **kwargs):
        calls.append(thread)
        if len(calls) > readers_before:
            raise KeyboardInterrupt
        original(thread, *args, **kwargs)

    monkeypatch.setattr(threading.Thread, where, until_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        RunningScript("5_subscriber.py", redis_url)
    monkeypatch.undo()
    script = started[-1]
    stop_all()
    assert not script.running()
