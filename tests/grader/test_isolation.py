"""The grader where it has no namespaces, and on a Redis it was told to use.

Where Linux allows no namespaces (a container without CAP_SYS_ADMIN), a port's Redis is on
a free port: a script that ignores REDIS_URL is told so in one line, and what a script left
running is still found (by its mark) and killed. On a Redis named by REDIS_URL, each task
starts on an emptied database with the configuration the grader found.
"""

import redis

from queuing_system.grader.redis_server import RedisServer

from .grading import PORTS, grade, headlines, verdicts

NO_NAMESPACES = {"QUEUING_GRADER_NAMESPACES": "0"}


def test_without_namespaces_a_script_that_ignores_redis_url_is_told_so_in_one_line(tmp_path):
    done = grade(
        "--dir", PORTS / "hardcoded_6379", "--only", "1,2,4", "--report", tmp_path / "r", env=NO_NAMESPACES
    )
    assert "no network namespace here" in done.stdout
    for task in (1, 2, 4):
        found = verdicts(done.report)[("hardcoded_6379", task)]
        assert found["verdict"] == "FAIL"
        # Refused at localhost:6379 (or, were a Redis there, never seen at REDIS_URL): both say REDIS_URL.
        assert [line for line in headlines(found) if "REDIS_URL" in line], headlines(found)
    assert done.left == []


def test_without_namespaces_a_setsid_daemon_is_still_found_and_killed(tmp_path):
    done = grade("--dir", PORTS / "hostile", "--only", "1,3", "--report", tmp_path / "r", env=NO_NAMESPACES)
    found = verdicts(done.report)
    assert headlines(found[("hostile", 1)]) == ["0_redis_client.py was killed by SIGTERM (exit -15)."]
    assert found[("hostile", 3)]["advice"][0].startswith(
        "2_redis_op_async.py left 1 process running after it ended"
    )
    assert done.returncode == 1  # its os.killpg(0) reached none of the grader's processes
    assert done.left == []


def test_on_a_redis_named_a_task_changing_its_config_reaches_no_later_task(tmp_path):
    with RedisServer() as server:  # its own: the hostile publisher sets maxmemory and runs FLUSHALL
        client = redis.Redis.from_url(server.url)
        before = client.config_get("maxmemory")
        done = grade(
            "--dir",
            PORTS / "hostile",
            "--only",
            "5,12",
            "--report",
            tmp_path / "r",
            env={"REDIS_URL": server.url},
        )
        after, keys = client.config_get("maxmemory"), client.dbsize()
    found = verdicts(done.report)
    assert found[("hostile", 5)]["verdict"] == "PASS"  # it set maxmemory 1mb and flushed everything
    assert found[("hostile", 12)]["verdict"] == "PASS"  # on the named Redis, its config put back
    assert after == before
    assert keys == 0
