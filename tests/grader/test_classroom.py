""".github/workflows/classroom.yml, GitHub Classroom's autograding of the exercise: one step per
task, each a command scored by its exit code, and Classroom's reporter reading each step.

Every command in it is run here as Classroom's command grader runs it (a shell, in the
student's repository: a port of tests/ports/), and must say pass or fail by its exit code
alone.
"""

import concurrent.futures
import os
import re
import subprocess
import sys

import pytest

from .grading import PORTS, ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "classroom.yml"
pytestmark = pytest.mark.timeout(600)


def steps():
    """[{key: value}] of the workflow's steps (the workflow is ours: plain `key: value`
    lines under `with:`, and one folded `>-` value)."""
    found, current, folded = [], None, None
    for line in WORKFLOW.read_text().splitlines():
        if line.startswith("      - "):
            current = {}
            found.append(current)
            line = "        " + line[8:]
        if current is None:
            continue
        if folded and line.startswith(" " * 12):
            current[folded] = f"{current[folded]} {line.strip()}".strip()
            continue
        folded = None
        match = re.match(r"^ {8,10}([\w-]+): ?(.*)$", line)
        if match:
            key, value = match.groups()
            if value == ">-":
                folded, value = key, ""
            current[key] = value.strip("'\"") if value != "''" else ""
    return found


def graders():
    return [
        step
        for step in steps()
        if step.get("uses", "").startswith("classroom-resources/autograding-command-grader@")
    ]


def test_there_is_one_step_per_task_and_the_reporter_reads_them_all():
    found = graders()
    assert [step["command"] for step in found] == [
        f"python -m queuing_system --dir . --only {n}" for n in range(14)
    ]
    assert [step["id"] for step in found] == [f"task-{n}" for n in range(14)]
    [reporter] = [step for step in steps() if "autograding-grading-reporter@" in step.get("uses", "")]
    assert reporter["runners"].split(",") == [step["id"] for step in found]
    for step in found:
        assert reporter[f"{step['id'].upper()}_RESULTS"] == f"${{{{steps.{step['id']}.outputs.result}}}}"


def test_the_setup_installs_bubblewrap_and_the_grader_in_a_command_a_shell_reads():
    setup = graders()[0]["setup-command"]
    assert "apt-get install -y -qq bubblewrap" in setup
    assert "pip install -q -e /tmp/queuing-grader" in setup
    shell = setup.replace("${{ vars.QUEUING_GRADER_REPO || github.repository }}", "owner/name")
    assert subprocess.run(["bash", "-n", "-c", shell]).returncode == 0
    assert all(step["setup-command"] == "" for step in graders()[1:])  # the first one's install stays


def run(command, port):
    """A command as Classroom's command grader runs it: a shell in the student's repository,
    with PATH and HOME only."""
    env = {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]),
        "HOME": os.environ["HOME"],
    }
    return subprocess.run(
        ["bash", "-c", command], cwd=port, env=env, capture_output=True, text=True, timeout=300
    )


def test_each_command_passes_on_a_port_that_does_its_task():
    commands = [step["command"] for step in graders()]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda command: run(command, PORTS / "textbook"), commands))
    failed = {
        command: result.stdout[-500:]
        for command, result in zip(commands, done, strict=True)
        if result.returncode
    }
    assert failed == {}
    assert all(result.stdout.rstrip().splitlines()[-1].startswith("1/1 passed in ") for result in done)


def test_a_command_fails_with_exit_1_on_a_port_that_does_not():
    [task_12] = [step["command"] for step in graders() if step["id"] == "task-12"]
    result = run(task_12, PORTS / "wrong_port")
    assert result.returncode == 1
    assert "9_stock.py listens on 127.0.0.1:5000, not on PORT=1245" in result.stdout


def test_the_legacy_autograding_json_runs_the_same_commands_as_the_workflow():
    """.github/classroom/autograding.json: the form of Classroom's autograding before its
    workflows (each test a command scored by its exit code), kept for assignments made then."""
    import json

    tests = json.loads((ROOT / ".github" / "classroom" / "autograding.json").read_text())["tests"]
    found = graders()
    assert [test["run"] for test in tests] == [step["command"] for step in found]
    assert [test["name"] for test in tests] == [step["test-name"] for step in found]
    assert "apt-get install -y -qq bubblewrap" in tests[0]["setup"]
    assert all(test["setup"] == "" for test in tests[1:])
    assert {(test["points"], test["timeout"]) for test in tests} == {(1, 10)}
