"""Task 0 as the README tells it: the server answers, and nothing in the repository changes."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from queuing_system.grader.harness import port_open, scripts_dir, wait_for
from queuing_system.grader.redis_server import free_port, server_executable

ROOT = scripts_dir()  # the checkout: conftest.py points the harness at it


def task_0_commands():
    """The commands of the README's task-0 block, comments dropped."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- task-0 -->\s*```sh\n(.*?)```", readme, re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def on_port(command, port):
    """The command aimed at a free port instead of 6379 (which may be taken here)."""
    if command.startswith("redis-server "):
        return f"{command} --port {port}"
    return command.replace("redis-cli ", f"redis-cli -p {port} ", 1)


def test_following_task_0_answers_as_the_readme_says_and_leaves_dump_rdb_alone(tmp_path):
    shutil.copy(ROOT / "dump.rdb", tmp_path / "dump.rdb")
    before = hashlib.sha256((tmp_path / "dump.rdb").read_bytes()).hexdigest()
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(server_executable()).parent}:{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    replies = []
    try:
        for command in task_0_commands():
            done = subprocess.run(
                on_port(command, port),
                shell=True,
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=20,
            )
            assert done.returncode == 0, (command, done.stderr)
            replies.append(done.stdout.strip())
            if command.startswith("redis-server "):
                wait_for(lambda: port_open(port), timeout=10)
                save = subprocess.run(
                    ["redis-cli", "-p", str(port), "config", "get", "save"],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=10,
                ).stdout
                assert save.split("\n")[1] == "", "the server would save into the repository"
                # what the tasks do while it runs: many writes, as the save rules count them
                subprocess.run(
                    ["redis-cli", "-p", str(port), "debug", "populate", "20000"],
                    env=env,
                    capture_output=True,
                    timeout=10,
                )
    finally:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], env=env, capture_output=True)
    wait_for(lambda: not port_open(port), timeout=10)
    assert replies[1:4] == ["PONG", "OK", "School"]
    assert hashlib.sha256((tmp_path / "dump.rdb").read_bytes()).hexdigest() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dump.rdb"]
