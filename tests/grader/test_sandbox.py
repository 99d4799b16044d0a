"""A script in its sandbox (queuing_system/grader/sandbox.py), asked what it can see and do.

Each test runs one small script through the grader's Runner and launcher, as a port's
script runs, and reads what it found out from its stdout; the launcher's own word (how it
ended, what it left running) comes on the pipe the script cannot reach.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from queuing_system.grader.port import copy_port
from queuing_system.grader.running import Script
from queuing_system.grader.sandbox import LIMITS, PORT_DIR, Runner, sandbox_works, script_env

from .grading import processes_with

pytestmark = pytest.mark.skipif(not sandbox_works(None), reason="bwrap cannot sandbox here")
PROBE = r"""
import json, os, resource, sys
def can_write(path):
    try:
        with open(path, "w") as out:
            out.write("x")
        return True
    except OSError:
        return False
def can_read(path):
    try:
        with open(path, "rb") as found:
            found.read(1)
        return True
    except OSError:
        return False
try:
    import queuing_system
    grader = True
except ImportError:
    grader = False
try:
    memory = bytearray(4 << 30)
    four_gib = True
except MemoryError:
    four_gib = False
print(json.dumps({
    "cwd": os.getcwd(),
    "env": sorted(os.environ),
    "uid": os.getuid(),
    "pids": sorted(int(pid) for pid in os.listdir("/proc") if pid.isdigit()),
    "parent": os.getppid(),
    "write_port": can_write("written.txt"),
    "write_tmp": can_write("/tmp/written.txt"),
    "read_shadow": can_read("/etc/shadow"),
    "root": sorted(os.listdir("/root")) if os.path.isdir("/root") else [],
    "grader_package": grader,
    "folders": sorted(os.listdir("/")),
    "four_gib": four_gib,
    "limits": {name: resource.getrlimit(getattr(resource, name))[0] for name in NAMES},
}))
""".replace("NAMES", repr(sorted(LIMITS)))


def run(tmp_path, code, *args):
    """Run `code` (a Python program) as a port's script: its Script, ended."""
    (tmp_path / "port").mkdir(exist_ok=True)
    runner = Runner(tmp_path / "work", sandboxed=True)
    launch = runner.launch(
        [sys.executable, "-c", code, *args], tmp_path / "port", script_env("redis://127.0.0.1:6379/0")
    )
    script = Script("probe", launch, sandboxed=True)
    assert script.wait(60) is not None, script.err_text
    script.wait_gone()
    return script


@pytest.fixture
def seen(tmp_path):
    (tmp_path / "work").mkdir()
    script = run(tmp_path, PROBE)
    assert script.code == 0, script.err_text
    return json.loads(script.lines()[-1])


def test_a_script_sees_its_copy_read_only_and_writes_only_its_scratch(seen):
    assert seen["cwd"] == PORT_DIR
    assert seen["write_port"] is False
    assert seen["write_tmp"] is True


def test_a_script_sees_no_secret_no_home_and_not_the_grader(seen):
    assert seen["read_shadow"] is False
    # Of a home, only the way to Python where Python lives in one (pyenv's ~/.pyenv here).
    python_home = [Path(sys.base_prefix).parts[2]] if sys.base_prefix.startswith("/root/") else []
    assert seen["root"] == python_home
    assert seen["grader_package"] is False
    system = {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "port", "proc", "root", "sbin", "site"}
    assert set(seen["folders"]) <= {*system, "tmp", "usr", Path(sys.prefix).parts[1]}


def test_a_script_is_alone_in_its_pid_namespace_under_the_launcher(seen):
    assert seen["parent"] == 1
    assert seen["pids"] == [1, 2]


def test_a_script_gets_the_stated_environment_and_nothing_of_the_graders(seen):
    stated = sorted({*script_env("redis://x"), "PWD"})
    assert seen["env"] == stated
    assert not [name for name in seen["env"] if name.startswith("QUEUING_") or "MARK" in name]


def test_a_script_runs_within_limits_and_cannot_take_4_gib(seen):
    assert seen["limits"] == LIMITS
    assert seen["four_gib"] is False
    if os.geteuid() == 0:
        assert seen["uid"] not in (0, 65534)  # a user of its own, not root, not nobody


def test_the_launcher_says_how_the_script_ended_and_what_it_left(tmp_path):
    (tmp_path / "work").mkdir()
    code = (
        "import os, signal, subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
    )
    script = run(tmp_path, code)
    assert script.code == -15
    assert len(script.left) == 1 and "time.sleep(60)" in script.left[0]


def test_a_grader_stop_reaches_the_script_through_its_launcher(tmp_path):
    (tmp_path / "port").mkdir()
    (tmp_path / "work").mkdir()
    runner = Runner(tmp_path / "work", sandboxed=True)
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    launch = runner.launch([sys.executable, "-c", code], tmp_path / "port", script_env("redis://x"))
    script = Script("stoppable", launch, sandboxed=True)
    assert script.wait_for_lines(1, 30)
    assert script.stop() == 0
    script.wait_gone()


def test_a_killed_script_and_all_it_started_are_gone_when_kill_returns(tmp_path):
    # Before: bwrap was killed first and left at once, its sandbox dying behind it; a
    # killed creator so enqueued one more job after the grader had emptied Redis.
    (tmp_path / "port").mkdir()
    (tmp_path / "work").mkdir()
    runner = Runner(tmp_path / "work", sandboxed=True)
    marker = f"busy-{os.getpid()}-{id(tmp_path)}"
    code = (
        "import subprocess, sys\n"
        f"busy = [sys.executable, '-c', 'while True: pass  # ' + '{marker[:4]}' + '{marker[4:]}']\n"
        "started = [subprocess.Popen(busy) for _ in range(8)]\n"
        "print('up', flush=True)\n"
        "while True: pass\n"
    )
    for _ in range(5):
        launch = runner.launch([sys.executable, "-c", code], tmp_path / "port", script_env("redis://x"))
        script = Script("busy", launch, sandboxed=True)
        assert script.wait_for_lines(1, 30)
        deadline = time.monotonic() + 30
        while len(processes_with(marker)) < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(processes_with(marker)) == 8
        script.kill()
        assert processes_with(marker) == []
        script.wait_gone()


def test_a_script_cannot_reach_the_launchers_pipe(tmp_path):
    (tmp_path / "work").mkdir()
    code = (
        "import os\n"
        "print(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))\n"
        "try:\n"
        "    print(os.listdir('/proc/1/fd'))\n"
        "except OSError as error:\n"
        "    print(type(error).__name__)\n"
    )
    script = run(tmp_path, code)
    fds, launchers = script.lines()
    assert json.loads(fds) == [0, 1, 2, 3]  # its own three, and the listing's
    assert launchers == "PermissionError"


def test_bwrap_is_the_debian_package_the_readme_installs():
    done = subprocess.run(["bwrap", "--version"], capture_output=True, text=True)
    assert done.stdout.startswith("bubblewrap ")


def test_a_ports_copy_keeps_its_own_links_and_drops_those_leading_out_of_it(tmp_path):
    port = tmp_path / "port"
    port.mkdir()
    (port / "0_redis_client.py").write_text("print('Redis client connected to the server')\n")
    (port / "1_redis_op.py").symlink_to("0_redis_client.py")
    (port / "dump.rdb").symlink_to("/etc/shadow")  # the grader, root, would copy or read it
    (port / "other.py").symlink_to(tmp_path / "another_port.py")
    copy = copy_port(port, tmp_path / "work")
    assert sorted((path.name, path.is_symlink()) for path in copy.iterdir()) == [
        ("0_redis_client.py", False),
        ("1_redis_op.py", True),
    ]
