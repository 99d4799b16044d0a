"""Fixtures: fakeredis for unit tests, the bundled redis-server for multi-process tests.

The run as a whole must leave the repository's tracked files as it found them (a Redis
saving into dump.rdb did once): checked at the end, failing the run if not.
"""

import os
import signal
import subprocess
from pathlib import Path

import fakeredis
import pytest
import redis

from queuing_system.connection import make_client
from queuing_system.grader.harness import SCRIPTS_ENV, RunningScript
from queuing_system.grader.harness import start_app as launch_app
from queuing_system.grader.redis_server import RedisServer
from queuing_system.logs import FORMAT_ENV
from queuing_system.web.redis_speedups import own_connection

ROOT = Path(__file__).resolve().parent.parent
os.environ[SCRIPTS_ENV] = str(ROOT)  # the scripts under test: this checkout's, from any directory
# The tests read the words of the scripts' stderr lines: plain, as on a terminal. How the
# lines look otherwise (a timestamp and level, JSON) is tests/test_logs.py's.
os.environ[FORMAT_ENV] = "plain"
DUMP_RDB = ROOT / "dump.rdb"
TRACKED = pytest.StashKey[str]()


def tracked_changes():
    """`git status` of the tracked files, or None outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


# Tests that load the machine hard (thousands of connections, kill storms, timed stops):
# one xdist group, so they run one at a time, beside the lighter tests only.
HEAVY_MODULES = {
    "test_9_stock.py",
    "test_app_stops.py",
    "test_connection_kills.py",
    "test_http_edges.py",
    "test_load.py",
    "test_one_outcome.py",
    "test_worker_killed.py",
}


# No test may hang the run: each has this many seconds (the longest take about a minute).
# Given per test (pytest-timeout), so that a run's header stays the tests' own.
TEST_TIMEOUT = 240


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name in HEAVY_MODULES:
            item.add_marker(pytest.mark.xdist_group("heavy"))
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


def pytest_sessionstart(session):
    session.config.stash[TRACKED] = tracked_changes()
    # A shell starts a background job with Ctrl-C ignored, and the scripts we start would
    # inherit that: give them a terminal's Ctrl-C (a Python handler resets at exec).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_sessionfinish(session, exitstatus):
    before, after = session.config.stash[TRACKED], tracked_changes()
    if before is not None and after != before:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line(f"The run changed tracked files:\n{after}", red=True)
        session.exitstatus = 1


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
    client = redis.Redis.from_url(shared_server.url)
    client.flushall()
    client.close()
    return shared_server.url


@pytest.fixture
def redis_binary(redis_url):
    """A binary client (as RQ needs) on the real test server."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def rdb_server():
    """A real Redis loaded from the project's dump.rdb."""
    with RedisServer(rdb=DUMP_RDB) as server:
        yield server


@pytest.fixture
def scripts():
    """Start scripts with scripts(name, url, ...); any still running are killed at the end."""
    started = []

    def start(name, url, *args, **extra_env):
        script = RunningScript(name, url, *args, **extra_env)
        started.append(script)
        return script

    yield start
    for script in started:
        script.kill()


@pytest.fixture
def start_app():
    """start_app(name, url) -> (script, base URL), the app accepting requests; killed at the end."""
    started = []

    def start(name, url, **extra_env):
        app, base = launch_app(name, url, **extra_env)
        started.append(app)
        return app, base

    yield start
    for app in started:
        app.kill()


@pytest.fixture
def clients(redis_url):
    """clients(decode_responses=True) -> (a client of the test Redis, own_connection() of it),
    both closed at the end."""
    made = []

    def make(decode_responses=True):
        client = make_client(redis_url, decode_responses=decode_responses)
        made.append(client)
        made.append(own_connection(client))
        return made[-2], made[-1]

    yield make
    for client in reversed(made):
        client.close()
