"""The tour (`python -m queuing_system`): runs every task, grades it, cleans up after itself."""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from queuing_system.grader.harness import (
    SCRIPTS_ENV,
    RunningScript,
    port_open,
    processes_using,
    scripts_dir,
    started,
    stop_all,
    wait_for,
)
from queuing_system.grader.redis_server import free_port

ROOT = scripts_dir()  # the checkout: conftest.py points the harness at it

NOWHERE = f"redis://127.0.0.1:{free_port()}/0"  # nothing answers: the tour starts its own Redis


def tour(*args, cwd=ROOT, url=NOWHERE):
    env = {name: value for name, value in os.environ.items() if name != SCRIPTS_ENV}
    return subprocess.run(
        [sys.executable, "-m", "queuing_system", *args],
        cwd=cwd,
        env={**env, "REDIS_URL": url},  # it grades the working directory
        capture_output=True,
        text=True,
        timeout=120,
    )


def started_port(output):
    return int(re.search(r"redis://127\.0\.0\.1:(\d+)/0", output).group(1))


def test_the_whole_tour_passes_and_stops_its_redis():
    result = tour()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().splitlines()[-1].startswith("14/14 passed in ")
    assert not port_open(started_port(result.stdout))


def test_a_tour_on_the_redis_at_redis_url_uses_it(redis_url):
    result = tour("--only", "1", url=redis_url)
    assert result.returncode == 0
    assert "Using the Redis at REDIS_URL" in result.stdout


def test_summary_prints_the_table_alone():
    result = tour("--summary", "--only", "4")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3  # header, task 4, total
    assert lines[1].split()[:2] == ["4", "PASS"]
    assert lines[2].startswith("1/1 passed in ")


def test_a_script_broken_by_one_character_fails_its_task_with_the_difference(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__"))
    publisher = copy / "5_publisher.py"
    publisher.write_text(
        publisher.read_text().replace('f"About to send {message}"', 'f"About to sent {message}"')
    )
    result = tour("--only", "5", "--scripts", str(copy))
    assert result.returncode == 1
    assert "FAIL" in result.stdout
    assert "-About to send KILL_SERVER" in result.stdout
    assert "+About to sent KILL_SERVER" in result.stdout


def hang(text):
    """The script waits for ever once connected."""
    connected = r"( +)qs\.wait_until_connected\(client\).*\n"
    return "import time\n" + re.sub(connected, r"\g<0>\1time.sleep(3600)\n", text)


def crash(text):
    return text.replace("    asyncio.run(run_all())", '    raise KeyError("schools")')


MISTAKES = {  # a student's port with one mistake: (its file, the change, its task, what says it)
    "a changed line": (
        "5_publisher.py",
        lambda text: text.replace('f"About to send {message}"', 'f"About to sent {message}"'),
        5,
        "+About to sent KILL_SERVER",
    ),
    "a missing file": ("4_redis_advanced_op.py", None, 4, "can't open file"),
    "a crash": ("2_redis_op_async.py", crash, 3, "KeyError: 'schools'"),
    "a hang": ("1_redis_op.py", hang, 2, "still running after 30s"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_anyones_port_with_one_mistake_fails_exactly_its_task(tmp_path, mistake):
    name, change, task, says = MISTAKES[mistake]
    copy = tmp_path / "student"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__"))
    if change is None:
        (copy / name).unlink()
    else:
        (copy / name).write_text(change((copy / name).read_text()))
    result = tour("--dir", str(copy))
    assert result.returncode == 1
    verdicts = re.findall(r"^ +(\d+)  (PASS|FAIL) ", result.stdout, re.MULTILINE)
    assert [int(number) for number, verdict in verdicts if verdict == "FAIL"] == [task]
    assert len(verdicts) == 14
    assert says in result.stdout


def test_a_directory_without_the_scripts_is_refused_in_one_line(tmp_path):
    result = tour("--only", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(
        f"error: no 0_redis_client.py in {tmp_path.resolve()}: run from the directory of "
        "the numbered scripts, or name it with --scripts"
    )


def start_tour_from_task_5(**options):
    return subprocess.Popen(
        [sys.executable, "-m", "queuing_system", "--from", "5"],
        cwd=ROOT,
        env={**os.environ, "REDIS_URL": NOWHERE},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def test_ctrl_c_stops_the_tour_and_its_redis():
    process = start_tour_from_task_5()
    first = process.stdout.readline()
    port = started_port(first)
    assert port_open(port)
    process.stdout.readline()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, "Traceback" in err) == (130, False), out + err
    wait_for(lambda: not port_open(port), timeout=10)


@pytest.mark.parametrize("seconds_in", [2, 4, 6, 8, 10])
def test_ctrl_c_to_the_tours_process_group_leaves_nothing_running(seconds_in):
    process = start_tour_from_task_5(start_new_session=True)
    url = re.search(r"redis://127\.0\.0\.1:\d+/0", process.stdout.readline()).group(0)
    time.sleep(seconds_in)  # a moment somewhere in the tasks, as a user would press Ctrl-C
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does
    try:
        _out, err = process.communicate(timeout=90)  # the tour's own cleanup deadline is 60 s
    finally:
        if process.poll() is None:  # never leave it behind, even when the test fails
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode in (0, 1, 130), err[-3000:]
    assert "most recent call first" not in err, err[-3000:]  # its cleanup never hung
    try:
        wait_for(lambda: not processes_using(url), timeout=3)
    except AssertionError:
        left = {pid: open(f"/proc/{pid}/cmdline").read().replace("\0", " ") for pid in processes_using(url)}
        raise AssertionError(f"still running: {left}; tour stderr: {err[-2000:]}") from None


@pytest.mark.parametrize("args", [["--only", "14"], ["--from", "-1"], ["--only", "x"]])
def test_a_task_that_does_not_exist_is_refused(args):
    result = tour(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_help_documents_the_options():
    result = tour("--help")
    for option in ("--only", "--from", "--keep-redis", "--summary"):
        assert option in result.stdout


@pytest.mark.parametrize("where", ["__init__", "start"])  # making a reader thread, starting it
@pytest.mark.parametrize("readers_before", [0, 1])
def test_a_script_started_as_ctrl_c_came_is_still_stopped(redis_url, monkeypatch, where, readers_before):
    # A Ctrl-C while RunningScript made its reader threads left it half made, and stopping
    # it then raised: the tour ended 1, with a traceback, its Redis running.
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
