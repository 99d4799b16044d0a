import signal

import pytest

from queuing_system.grader.expected import CONNECTED, NOT_CONNECTED_PREFIX, transcript
from queuing_system.grader.harness import run_script
from queuing_system.grader.redis_server import RedisServer, free_port

REFUSED = "Error 111 connecting to 127.0.0.1:{port}. Connection refused."


def test_prints_the_connected_line_and_exits_0(redis_url):
    result = run_script("0_redis_client.py", redis_url)
    assert result.returncode == 0
    assert result.stdout == transcript([CONNECTED])
    assert result.stderr == ""


def test_retries_printing_the_error_until_the_server_appears(scripts):
    port = free_port()
    client = scripts("0_redis_client.py", f"redis://127.0.0.1:{port}/0")
    refused = NOT_CONNECTED_PREFIX + REFUSED.format(port=port)
    assert client.next_line() == refused
    assert client.next_line() == refused
    with RedisServer(port=port):
        while (line := client.next_line()) == refused:
            pass
        assert line == CONNECTED
        assert client.wait() == 0
    assert client.stderr == ""


def test_ctrl_c_while_retrying_exits_130_without_traceback(scripts):
    client = scripts("0_redis_client.py", f"redis://127.0.0.1:{free_port()}/0")
    assert client.next_line().startswith(NOT_CONNECTED_PREFIX)
    assert client.stop(signal.SIGINT) == 130
    assert client.stderr == ""


def test_sigterm_while_retrying_exits_0_without_traceback(scripts):
    client = scripts("0_redis_client.py", f"redis://127.0.0.1:{free_port()}/0")
    assert client.next_line().startswith(NOT_CONNECTED_PREFIX)
    assert client.stop(signal.SIGTERM) == 0
    assert client.stderr == ""
    assert all(line.startswith(NOT_CONNECTED_PREFIX) for line in client.output)


def test_password_in_redis_url_works_and_is_never_printed():
    with RedisServer(password="s3cret-pw") as server:
        result = run_script("0_redis_client.py", server.url)
        assert (result.returncode, result.stdout) == (0, transcript([CONNECTED]))
        wrong = run_script("0_redis_client.py", server.url.replace("s3cret-pw", "wrong-pw"))
    assert wrong.returncode == 1
    [line] = wrong.stdout.splitlines()  # said once: retrying cannot fix a wrong password
    assert line.startswith(NOT_CONNECTED_PREFIX)
    assert "pw" not in wrong.stdout + wrong.stderr


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:notaport/0",
        "localhost:6379",
        "redis://:s3cret-pw@localhost:port/0",
        "http://localhost:6379/0",
    ],
)
def test_a_malformed_redis_url_is_said_once_and_exits_1(url):
    result = run_script("0_redis_client.py", url, timeout=10)
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(NOT_CONNECTED_PREFIX + "REDIS_URL is not valid: ")
    assert (result.stderr, "s3cret" in line) == ("", False)
