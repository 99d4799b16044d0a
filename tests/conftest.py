"""Fixtures: fakeredis for unit tests, the bundled redis-server for multi-process tests."""

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import fakeredis
import pytest
import redis

from queuing_system.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
DUMP_RDB = ROOT / "dump.rdb"
SCRIPT_TIMEOUT = 30  # seconds; every script here finishes in a few


@pytest.fixture
def fake_redis():
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture
def fake_async_redis():
    return fakeredis.FakeAsyncRedis(decode_responses=True)


@pytest.fixture(scope="session")
def shared_server():
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(shared_server):
    """The URL of a real, empty Redis (one server per session, flushed per test)."""
    redis.Redis.from_url(shared_server.url).flushall()
    return shared_server.url


@pytest.fixture
def rdb_server():
    """A real Redis loaded from the project's dump.rdb."""
    with RedisServer(rdb=DUMP_RDB) as server:
        yield server


def script_env(url, **extra):
    env = dict(os.environ, REDIS_URL=url, **extra)
    env.pop("QUEUING_DEBUG", None)
    return env


def run_script(name, url, timeout=SCRIPT_TIMEOUT, **extra_env):
    """Run a numbered script to its end, as a user would from the repository root."""
    return subprocess.run(
        [sys.executable, name],
        cwd=ROOT,
        env=script_env(url, **extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Script:
    """A numbered script running in the background, its output read as it comes.

    Reader threads keep the pipes drained, so a chatty script never blocks and a test
    waiting for a line times out instead of hanging.
    """

    def __init__(self, name, url, *args, **extra_env):
        self.process = subprocess.Popen(
            [sys.executable, name, *args],
            cwd=ROOT,
            env=script_env(url, **extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout_lines = queue.Queue()
        self.output = []  # every stdout line so far, in order
        self.stderr_parts = []
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self):
        for line in self.process.stdout:
            self.stdout_lines.put(line.rstrip("\n"))
        self.stdout_lines.put(None)

    def _read_stderr(self):
        for line in self.process.stderr:
            self.stderr_parts.append(line)

    @property
    def pid(self):
        return self.process.pid

    @property
    def stderr(self):
        return "".join(self.stderr_parts)

    def next_line(self, timeout=SCRIPT_TIMEOUT):
        try:
            line = self.stdout_lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no line within {timeout}s; so far {self.output}; stderr: {self.stderr}")
        if line is None:
            self.stdout_lines.put(None)
            pytest.fail(f"the script ended early; output {self.output}; stderr: {self.stderr}")
        self.output.append(line)
        return line

    def wait(self, timeout=SCRIPT_TIMEOUT):
        """Wait for the script to end by itself; return its exit code."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self._drain()
            pytest.fail(f"still running after {timeout}s; output {self.output}; stderr: {self.stderr}")
        self._drain()
        return self.process.returncode

    def stop(self, sig=signal.SIGTERM, timeout=SCRIPT_TIMEOUT):
        """Signal the script and return its exit code once it has ended."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait(timeout)

    def _drain(self):
        for reader in self._readers:
            reader.join(5)
        while True:
            line = self.stdout_lines.get()
            if line is None:
                self.stdout_lines.put(None)
                return
            self.output.append(line)


@pytest.fixture
def scripts():
    """Start scripts with scripts(name, url, ...); any still running are killed at the end."""
    started = []

    def start(name, url, *args, **extra_env):
        script = Script(name, url, *args, **extra_env)
        started.append(script)
        return script

    yield start
    for script in started:
        if script.process.poll() is None:
            script.process.kill()
            script.process.wait()


def wait_for(condition, timeout=SCRIPT_TIMEOUT, interval=0.02):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(interval)


@pytest.fixture
def redis_binary(redis_url):
    """A binary client (as RQ needs) on the real test server."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def http_get(url, method="GET", timeout=10):
    """(status, content type, body bytes) of one request, error statuses included."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


@pytest.fixture
def start_app(scripts):
    """Start an app script on a free port; returns (script, base URL) once it accepts requests."""

    def start(name, url, **extra_env):
        port = free_port()
        app = scripts(name, url, PORT=str(port), **extra_env)
        wait_for(lambda: port_open(port) or app.process.poll() is not None)
        assert app.process.poll() is None, app.stderr
        return app, f"http://127.0.0.1:{port}"

    return start
