"""Grading one port: its tasks one after the other, each on a Redis of its own.

Run by the command line (cli.py) as a process of its own, `python -m
queuing_system.grader.port ...`, in new PID and network namespaces where Linux allows
(isolation.py). It grades a copy of the port, so nothing the port's scripts write reaches
the port itself; gives every task a fresh redis-server (or, on a Redis it was told to use,
an emptied database with its configuration put back), so nothing a task did (keys, a
`CONFIG SET maxmemory`, a FLUSHALL) reaches the next; and ends every task by killing
whatever the task's processes left running. It writes its verdicts as JSON.
"""

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path

import redis

from .isolation import (
    become_subreaper,
    descendants,
    kill_all,
    loopback_up,
    reap_orphans_as_init,
)
from .redis_server import RedisServer, free_port
from .sandbox import Runner
from .tasks import EXERCISE_PORT, TASKS, grader_of, missing_files
from .trial import Trial
from .verdicts import Problem, TaskResult, task_block

NAMESPACED_REDIS_PORT = 6379  # in the port's own network namespace: where the exercise's Redis is
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", "*.pyc"
)


def copy_port(source, into, name="port"):
    """A copy of the port to run, readable by a sandbox's user: its scripts see it
    read-only, and nothing they do reaches the port itself. Its symlinks are copied as
    links, and those that lead out of it are left out: a port's `dump.rdb ->
    /etc/shadow` must not become a copy of /etc/shadow, nor be read by the grader."""
    copy = into / name
    shutil.copytree(source, copy, ignore=NOT_COPIED, symlinks=True)
    root = copy.resolve()
    for folder, subfolders, files in os.walk(copy):
        os.chmod(folder, 0o755)
        for entry in [*subfolders, *files]:
            path = Path(folder, entry)
            if path.is_symlink():
                target = path.resolve()
                if target != root and root not in target.parents:
                    path.unlink()
            elif path.is_file():
                os.chmod(path, 0o755 if path.stat().st_mode & 0o100 else 0o644)
    return copy


class OwnRedis:
    """A fresh redis-server for each task: nothing of a task's data or config outlives it."""

    own = True  # every client of it is the grader's or a script's

    def __init__(self, network):
        self.network = network
        self.server = None

    def pids(self):
        return {self.server.process.pid} if self.server and self.server.process else set()

    @contextlib.contextmanager
    def for_task(self):
        server = self.server = RedisServer(port=NAMESPACED_REDIS_PORT if self.network else free_port())
        server.start()
        client = redis.Redis.from_url(server.url, socket_timeout=10)
        try:
            yield server.url, client
        finally:
            client.close()
            server.close()


class NamedRedis:
    """The Redis the grader was told to use: its database emptied before each task (and at
    the end), and any configuration a task changed set back."""

    own = False  # others may use the server: their connections are not the grader's to close

    def __init__(self, url):
        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=10)
        try:
            self.config = self.client.config_get("*")
        except redis.RedisError:
            self.config = None  # CONFIG refused (a managed Redis): nothing to put back

    def pids(self):
        return set()

    def restore(self):
        if self.config is None:
            return
        with contextlib.suppress(redis.RedisError, OSError):
            now = self.client.config_get("*")
            for name, value in self.config.items():
                if now.get(name) != value:
                    with contextlib.suppress(redis.RedisError):
                        self.client.config_set(name, value)

    @contextlib.contextmanager
    def for_task(self):
        self.restore()
        self.client.flushdb()
        try:
            yield self.url, self.client
        finally:
            self.restore()
            with contextlib.suppress(redis.RedisError, OSError):
                self.client.flushdb()


@contextlib.contextmanager
def app_port(network, lock_path, number):
    """The port an app task gives its app: 1245, the exercise's, in the port's own network
    namespace; elsewhere 1245 too when free, the app tasks of all ports taking turns."""
    if network or number not in (12, 13):
        yield EXERCISE_PORT
        return
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            probe = socket.socket()
            try:
                probe.bind(("127.0.0.1", EXERCISE_PORT))
                port = EXERCISE_PORT
            except OSError:
                port = free_port()
            finally:
                probe.close()
            yield port
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def leftovers(trial, keep):
    """What the task's scripts left running once they ended: each launcher gave it a
    moment to end by itself, then killed it, and said what it was; anything that came to
    this process (a launcher killed before it could) is killed here. Advice by default,
    a problem under --strict."""
    for script in trial.scripts.values():
        script.wait_gone()
        if script.left:
            shown = "; ".join(script.left[:3])
            count = len(script.left)
            trial.lenient(
                f"{script.name} left {count} process{'es' if count > 1 else ''} running after it ended "
                f"({shown}): killed. The spec's scripts leave nothing running.",
                script=script.name,
            )
    stray = kill_all(lambda: [pid for pid in descendants(os.getpid()) if pid not in keep])
    if stray:
        trial.lenient(
            f"the scripts of this task left {len(stray)} process{'es' if len(stray) > 1 else ''} running: "
            "killed. The spec's scripts leave nothing running."
        )


def run_task(each, options, copy, redis_source, runner, memory):
    result = TaskResult(each.number, each.title, list(each.files))
    began = time.monotonic()
    graded, needed = missing_files(each, copy)
    if graded:
        result.problems = [Problem(f"missing {name}") for name in graded]
    elif needed:
        words = ", ".join(f"{name} (task {grader_of(name)} grades it)" for name in needed)
        result.skipped = f"it needs {words}, which is missing"
    else:
        with app_port(options.network, options.app_lock, each.number) as port:
            with redis_source.for_task() as (url, client):
                trial = Trial(
                    each,
                    copy,
                    url,
                    client,
                    options.strict,
                    port,
                    runner,
                    options.partners,
                    memory,
                    own_redis=redis_source.own,
                )
                try:
                    each.run(trial)
                except Exception as error:  # the grader's own trouble: said, never a traceback
                    details = traceback.format_exc().splitlines() if os.environ.get("QUEUING_DEBUG") else []
                    trial.fail(
                        f"the grader could not finish this task: {type(error).__name__}: {error}", details
                    )
                finally:
                    for script in trial.scripts.values():
                        if script.running():
                            script.kill()
                    leftovers(trial, keep=redis_source.pids())
                trial.finish(result)
    result.decide()
    result.seconds = round(time.monotonic() - began, 2)
    return result


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m queuing_system.grader.port")
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--result-fd", type=int, required=True, help="a pipe to the command line")
    parser.add_argument("--work", type=Path, required=True, help="where its temporary files go")
    parser.add_argument("--tasks", default=",".join(str(each.number) for each in TASKS))
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--redis-url")
    parser.add_argument("--network", action="store_true", help="in a network namespace of its own")
    parser.add_argument("--sandbox", action="store_true", help="each script in a bubblewrap sandbox")
    parser.add_argument(
        "--partners", type=Path, help="this repository's scripts, the partners known to be right"
    )
    parser.add_argument("--live", action="store_true", help="print each task's block as it ends")
    parser.add_argument("--app-lock", default=str(Path(tempfile.gettempdir()) / "queuing-grader-apps.lock"))
    return parser.parse_args(argv)


def save(out, results, running=None, error="", finished=False):
    """The verdicts so far, sent after each task down the pipe to the command line (a line
    each time, the last one wins): a grading killed mid-way keeps them, and the task it was
    running is known. No script can reach the pipe: it is neither a file nor inherited."""
    data = {"results": [result.to_json() for result in results], "running": running}
    data.update(error=error, finished=finished)
    out.write(json.dumps(data) + "\n")
    out.flush()


def main(argv=None):
    options = parse_args(argv)
    if os.getpid() == 1:
        reap_orphans_as_init()
    if options.network:
        loopback_up()
    become_subreaper()
    numbers = [int(number) for number in options.tasks.split(",") if number]
    chosen = [each for each in TASKS if each.number in numbers]
    out = os.fdopen(options.result_fd, "w")
    tempfile.tempdir = str(options.work)  # every temporary file of the port's, its Redis's too, in the run's
    work = Path(tempfile.mkdtemp(prefix="port-"))
    results = []
    error_text = ""
    try:
        copy = copy_port(options.source, work)
        runner = Runner(work, options.sandbox, guarded=not options.network)
        redis_source = NamedRedis(options.redis_url) if options.redis_url else OwnRedis(options.network)
        memory = {}  # what a task learned of the port that a later one uses (its creators' jobs)
        for index, each in enumerate(chosen, 1):
            save(out, results, running=each.number)
            results.append(run_task(each, options, copy, redis_source, runner, memory))
            if options.live:
                print("\n".join(task_block(results[-1], index, len(chosen))), flush=True)
    except (OSError, redis.RedisError, RuntimeError) as error:
        error_text = f"{type(error).__name__}: {error}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    save(out, results, error=error_text, finished=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
