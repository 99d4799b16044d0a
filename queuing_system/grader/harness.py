"""Running the numbered scripts in the tests (the grader runs them with running.py).

Each script runs from the directory under grade (scripts_dir()) in its own process, with
REDIS_URL (and PORT for the apps) in its environment; its output is read line by line as
it comes.
"""

import concurrent.futures
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

from .redis_server import free_port

SCRIPTS_ENV = "QUEUING_SCRIPTS"  # the directory under grade, if not the working directory
TIMEOUT = 30  # seconds; every script here answers within a few
STOP_WITHIN = 5  # seconds a script has to stop after SIGTERM, as the spec says


def scripts_dir():
    """The directory under grade: the numbered scripts and task 0's dump.rdb."""
    return Path(os.environ.get(SCRIPTS_ENV, ".")).resolve()


class ScriptError(AssertionError):
    """A script did not behave: it ended early, said nothing in time, or would not stop."""


def script_env(url, **extra):
    env = dict(os.environ, REDIS_URL=url, **extra)
    env.pop("QUEUING_DEBUG", None)
    return env


def run_script(name, url, *args, timeout=TIMEOUT, **extra_env):
    """Run a script to its end; the CompletedProcess has its stdout and stderr as text.
    One still running after `timeout` seconds is killed, and said so with what it printed."""
    try:
        return subprocess.run(
            [sys.executable, name, *args],
            cwd=scripts_dir(),
            env=script_env(url, **extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as expired:
        printed = expired.stdout or ""
        printed = printed.decode(errors="replace") if isinstance(printed, bytes) else printed
        raise ScriptError(
            f"{name} still running after {timeout}s, killed (does it wait for something that never "
            f"comes?); it printed {printed.splitlines()}"
        ) from None


def rq_worker_command(url, queue, burst=False):
    """RQ's own `rq worker` on one of our queues: JSON payloads, no fork per job."""
    command = [sys.executable, "-m", "rq.cli", "worker", "--url", url, "--serializer", "json"]
    command += ["--worker-class", "rq.worker.SimpleWorker", *(["--burst"] if burst else []), queue]
    return command


def wait_for(condition, timeout=TIMEOUT, interval=0.02):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise ScriptError(f"timed out after {timeout}s waiting")
        time.sleep(interval)


class RunningScript:
    """A script running in the background, its output read as it comes.

    Reader threads keep the pipes drained, so a chatty script never blocks, and waiting
    for a line times out instead of hanging.
    """

    def __init__(self, name, url, *args, **extra_env):
        # A Ctrl-C may land anywhere in here: once the script is in `started`, stop_all()
        # must find all it needs, and only reader threads that did start.
        self.name = name
        self.lines = queue.Queue()
        self.output = []  # the stdout lines taken so far, in order
        self.stderr_parts = []
        self.readers = []
        self.process = subprocess.Popen(
            [sys.executable, name, *args],
            cwd=scripts_dir(),
            env=script_env(url, **extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, so kill() reaches its children
        )
        started.append(self)
        for read in (self._read_stdout, self._read_stderr):
            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            self.readers.append(reader)

    def _read_stdout(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _read_stderr(self):
        for line in self.process.stderr:
            self.stderr_parts.append(line)

    @property
    def pid(self):
        return self.process.pid

    @property
    def stderr(self):
        return "".join(self.stderr_parts)

    def running(self):
        return self.process.poll() is None

    def next_line(self, timeout=TIMEOUT):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise ScriptError(
                f"{self.name}: no line within {timeout}s; so far {self.output}; stderr: {self.stderr}"
            ) from None
        if line is None:
            self.lines.put(None)
            raise ScriptError(f"{self.name} ended early; output {self.output}; stderr: {self.stderr}")
        self.output.append(line)
        return line

    def wait(self, timeout=TIMEOUT):
        """Wait for the script to end by itself; return its exit code."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ScriptError(
                f"{self.name} still running after {timeout}s; output {self.output}; stderr: {self.stderr}"
            ) from None
        self._drain()
        return self.process.returncode

    def stop(self, sig=signal.SIGTERM, timeout=TIMEOUT):
        """Signal the script and return its exit code once it has ended."""
        if self.running():
            self.process.send_signal(sig)
        return self.wait(timeout)

    def kill(self):
        """End the script and everything it started (workers, server processes): SIGTERM
        to its process group, SIGKILL to what is left after STOP_WITHIN seconds. (SIGKILL
        alone would leave what the script started in sessions of its own to their own
        devices.)"""
        signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_WITHIN)
        except subprocess.TimeoutExpired:
            pass
        signal_group(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._drain()

    def _drain(self):
        for reader in self.readers:
            reader.join(5)
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self.lines.put(None)
                return
            self.output.append(line)


started = []  # every RunningScript of this process, for stop_all()


def signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def stop_all():
    """Stop every script this process started that may still run (a tour or test run
    interrupted mid-task): all at once, each as kill() does."""
    scripts = list(started)
    for script in scripts:
        signal_group(script.process.pid, signal.SIGTERM)
    for script in scripts:
        script.kill()
    started.clear()


def http_get(url, method="GET", timeout=10):
    """(status, content type, body text) of one request, error statuses included."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def get_many(urls, count, clients=64):
    """`count` GETs spread over `urls` in turn, `clients` at a time: [(url, http_get answer)]."""
    chosen = [urls[n % len(urls)] for n in range(count)]
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        return list(zip(chosen, pool.map(http_get, chosen), strict=True))


def processes_using(url):
    """The pids of processes whose environment has this REDIS_URL: a script started with
    it and everything that script started, in any session."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"REDIS_URL={url}".encode() in environ:
            found.append(int(entry))
    return found


def reading_events(client):
    """A condition for wait_for: some client (a creator) is waiting on XREAD for job events."""
    return lambda: any(entry.get("cmd") == "xread" for entry in client.client_list())


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def processing(queue, count):
    """What a processor serving `queue`, `count` jobs at a time, says on stderr as it starts."""
    return f"Processing {queue}, {'1 job' if count == 1 else f'{count} jobs'} at a time (Ctrl-C to stop)\n"


def creator_quiet(stderr):
    """Whether a creator said nothing on stderr but, maybe, that no worker had answered yet
    (it does after a few seconds without news: a slow start under load)."""
    return all(line.startswith("No word from a worker yet on ") for line in stderr.splitlines())


def listening(base):
    """What an app serving at `base` says on stderr, and all it says when nothing is wrong."""
    return f"Listening on {base}\n"


def start_app(name, url, **extra_env):
    """Start an app script on a free port; returns (script, base URL) once it accepts requests."""
    port = free_port()
    app = RunningScript(name, url, PORT=str(port), **extra_env)
    wait_for(lambda: port_open(port) or not app.running())
    if not app.running():
        app.wait()
        raise ScriptError(f"{name} did not start: {app.stderr}")
    return app, f"http://127.0.0.1:{port}"
