"""Errors retrying cannot fix (a wrong password, a malformed REDIS_URL): every script says
so once, never shows the password, and exits 1 instead of retrying forever."""

import pytest

from queuing_system.grader.expected import NOT_CONNECTED_PREFIX
from queuing_system.grader.harness import run_script
from queuing_system.grader.redis_server import RedisServer

PASSWORD = "Right-pw-4567"
# (script, where its connection lines go): the job scripts and apps keep stdout for the spec
SCRIPTS = [
    ("0_redis_client.py", "stdout"),
    ("1_redis_op.py", "stdout"),
    ("2_redis_op_async.py", "stdout"),
    ("5_subscriber.py", "stdout"),
    ("6_job_creator.py", "stderr"),
    ("7_job_processor.py", "stderr"),
    ("8_job.py", "stderr"),
    ("9_stock.py", "stderr"),
    ("100_seat.py", "stderr"),
]


@pytest.fixture(scope="module")
def guarded():
    with RedisServer(password=PASSWORD) as server:
        yield server


def said_once(result, where):
    text = result.stdout if where == "stdout" else result.stderr
    lines = text.splitlines()
    assert len(lines) == 1, f"expected one line on {where}, got {lines}"
    assert lines[0].startswith(NOT_CONNECTED_PREFIX)
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


@pytest.mark.parametrize("name, where", SCRIPTS)
def test_a_wrong_password_is_said_once_and_exits_1(guarded, name, where):
    result = run_script(name, guarded.url.replace(PASSWORD, "Wrong-pw-0000"), timeout=20)
    assert result.returncode == 1
    said_once(result, where)
    assert "pw" not in result.stdout + result.stderr


MALFORMED = [
    "redis://localhost:port/0",
    "localhost:6379",
    "redis://:Secret-pw@host:x/0",
    "redis+sentinel://:Secret-pw@127.0.0.1:26379",  # no service
    "redis+sentinel://:Secret-pw@host:x/mymaster",
]


@pytest.mark.parametrize("url", MALFORMED)
@pytest.mark.parametrize("name, where", SCRIPTS)
def test_a_malformed_redis_url_is_said_once_and_exits_1(name, where, url):
    result = run_script(name, url, timeout=20)
    assert result.returncode == 1
    assert "REDIS_URL is not valid" in said_once(result, where)
    assert "Secret" not in result.stdout + result.stderr
