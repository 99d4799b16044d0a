"""The grader where it cannot sandbox, the machine around it, and a Redis it was told to use.

Without namespaces (QUEUING_GRADER_NAMESPACES=0, as where Linux allows none) no script is
sandboxed: every report says so on its first line, a folder of ports is graded only with
--trust-ports, a Python script may connect to its Redis and its app only (never to an
educator's Redis on 6379), and what a script leaves running is still found and killed.
Correct ports pass there too.

Each test here runs the grader in a network namespace of the test's own, where an
"educator's Redis" listens on 6379: the machine's own 6379 and 1245 are never touched.
"""

import json
import os
import sys

import pytest

from queuing_system.grader.sandbox import NOT_SANDBOXED, sandbox_works

from .grading import DAEMON, PORTS, daemons_left, grade, headlines, verdicts

NO_NAMESPACES = {"QUEUING_GRADER_NAMESPACES": "0"}
# Runs a command in a network namespace of its own, beside an "educator's Redis" on 6379:
# writes how many keys and connections that Redis got from it.
EDUCATOR = """
import json, subprocess, sys
import redis
from queuing_system.grader.isolation import loopback_up
from queuing_system.grader.redis_server import RedisServer
loopback_up()
with RedisServer(port=6379) as server:
    client = redis.Redis(port=6379)
    before, config = client.info("stats")["total_connections_received"], client.config_get("maxmemory")
    code = subprocess.call(sys.argv[2:])
    after = client.info("stats")["total_connections_received"]
    with open(sys.argv[1], "w") as out:
        json.dump({"keys": client.dbsize(), "connections": after - before}, out)
    with open(sys.argv[1] + ".config", "w") as out:
        json.dump([config, client.config_get("maxmemory")], out)
sys.exit(code)
"""
pytestmark = pytest.mark.timeout(600)


def beside_an_educators_redis(tmp_path):
    """The prefix that runs the grader in a network namespace with an educator's Redis on
    6379, and the file that tells what that Redis got."""
    told = tmp_path / "educator.json"
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--net", "--", sys.executable, "-c", EDUCATOR, str(told)], told


def test_without_namespaces_a_port_hard_coding_6379_never_reaches_the_educators_redis(tmp_path):
    prefix, told = beside_an_educators_redis(tmp_path)
    done = grade(
        "--dir",
        PORTS / "hardcoded_6379",
        "--only",
        "1,2,4,5",
        "--report",
        tmp_path / "r",
        env=NO_NAMESPACES,
        prefix=prefix,
    )
    assert done.stdout.splitlines()[0] == NOT_SANDBOXED
    for task in (1, 2, 4, 5):
        found = verdicts(done.report)[("hardcoded_6379", task)]
        assert found["verdict"] == "FAIL"
        assert [line for line in headlines(found) if "not to REDIS_URL" in line], headlines(found)
    assert json.loads(told.read_text()) == {"keys": 0, "connections": 0}
    assert done.left == []


def test_in_its_sandbox_a_port_hard_coding_6379_is_graded_fairly_beside_the_educators_redis(tmp_path):
    if not sandbox_works(True):
        pytest.skip("bwrap cannot sandbox here")
    prefix, told = beside_an_educators_redis(tmp_path)
    done = grade("--dir", PORTS / "hardcoded_6379", "--only", "1,2,4,5", "--summary", prefix=prefix)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(told.read_text()) == {"keys": 0, "connections": 0}


def test_without_namespaces_a_daemon_that_drops_its_environment_is_still_found_and_killed(tmp_path):
    prefix, _told = beside_an_educators_redis(tmp_path)
    done = grade(
        "--dir", PORTS / "daemon", "--only", "3", "--report", tmp_path / "r", env=NO_NAMESPACES, prefix=prefix
    )
    found = verdicts(done.report)[("daemon", 3)]
    assert found["verdict"] == "PASS"
    assert found["advice"][0].startswith("2_redis_op_async.py left 1 process running after it ended (")
    assert DAEMON in found["advice"][0]
    assert done.left == [] and daemons_left() == []


def test_without_namespaces_a_killpg_reaches_no_process_of_the_graders(tmp_path):
    prefix, _told = beside_an_educators_redis(tmp_path)
    done = grade(
        "--dir",
        PORTS / "hostile",
        "--only",
        "1",
        "--report",
        tmp_path / "r",
        env=NO_NAMESPACES,
        prefix=prefix,
    )
    assert headlines(verdicts(done.report)[("hostile", 1)]) == [
        "0_redis_client.py was killed by SIGTERM (exit -15)."
    ]
    assert done.returncode == 1
    assert done.left == []


def test_without_a_sandbox_a_class_is_graded_only_if_its_ports_are_trusted(tmp_path):
    prefix, _told = beside_an_educators_redis(tmp_path)
    refused = grade("--dir", PORTS, "--only", "1", env=NO_NAMESPACES, prefix=prefix)
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1].endswith(
        "error: the grader cannot sandbox the scripts here (QUEUING_GRADER_NAMESPACES=0): it grades a "
        "folder of ports only if you trust every one of them (--trust-ports)"
    )
    assert refused.left == []
    report = tmp_path / "class"
    trusted = grade(
        "--dir",
        PORTS / "textbook",
        "--dir",
        PORTS / "hardcoded_6379",
        "--only",
        "1",
        "--trust-ports",
        "--summary",
        "--report",
        report,
        env=NO_NAMESPACES,
        prefix=prefix,
    )
    assert trusted.stdout.splitlines()[0] == NOT_SANDBOXED
    assert (
        report.with_suffix(".json").read_text().splitlines()[0].startswith(f'{{"warning": "{NOT_SANDBOXED}"')
    )
    assert report.with_suffix(".xml").read_text().splitlines()[0] == f"<!-- {NOT_SANDBOXED} -->"
    assert trusted.report["sandboxed"] is False


@pytest.mark.parametrize(
    "port, tasks",
    [
        ("textbook", range(14)),
        ("rq_polling", range(6, 10)),
        ("streams_and_exec", range(6, 14)),
        ("flask_only", (12, 13)),
    ],
)
def test_correct_ports_pass_without_namespaces(tmp_path, port, tasks):
    prefix, told = beside_an_educators_redis(tmp_path)
    done = grade(
        "--dir",
        PORTS / port,
        "--only",
        ",".join(map(str, tasks)),
        "--report",
        tmp_path / "r",
        env=NO_NAMESPACES,
        prefix=prefix,
    )
    failed = {
        number: headlines(task)
        for (_name, number), task in verdicts(done.report).items()
        if task["verdict"] != "PASS"
    }
    assert failed == {}
    assert done.returncode == 0
    assert json.loads(told.read_text()) == {"keys": 0, "connections": 0}
    assert done.left == []


def test_a_link_planted_at_the_report_path_is_replaced_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("not a report\n")
    for ending in (".json", ".xml"):
        (tmp_path / f"grades{ending}").symlink_to(victim)
    done = grade("--dir", PORTS / "textbook", "--only", "1", "--report", tmp_path / "grades")
    assert done.returncode == 0
    assert victim.read_text() == "not a report\n"
    assert not (tmp_path / "grades.json").is_symlink() and not (tmp_path / "grades.xml").is_symlink()
    assert done.report["ports"][0]["name"] == "textbook"


def test_on_a_redis_named_a_task_changing_its_config_reaches_no_later_task(tmp_path):
    # The educator's Redis, named: the hostile publisher sets maxmemory and runs FLUSHALL on it.
    prefix, told = beside_an_educators_redis(tmp_path)
    done = grade(
        "--dir",
        PORTS / "hostile",
        "--only",
        "5,12",
        "--report",
        tmp_path / "r",
        env={"REDIS_URL": "redis://127.0.0.1:6379/0"},
        prefix=prefix,
    )
    found = verdicts(done.report)
    assert "Using the Redis at REDIS_URL (redis://127.0.0.1:6379/0)" in done.stdout
    assert found[("hostile", 5)]["verdict"] == "PASS"  # it set maxmemory 1mb and flushed everything
    assert found[("hostile", 12)]["verdict"] == "PASS"  # on the named Redis, its config put back
    before, after = json.loads(told.with_name(told.name + ".config").read_text())
    assert after == before
    assert json.loads(told.read_text())["keys"] == 0
