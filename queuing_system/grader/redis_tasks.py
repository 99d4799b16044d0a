"""Tasks 0-5: a Redis server and dump.rdb, the redis-py scripts, pub/sub in two terminals."""

import shutil
import subprocess
import threading
import time
from pathlib import Path

import redis

from . import diffs, expected
from .checks import RUN_TIMEOUT, WAIT, expect_lines, registering, run_to_end
from .redis_server import free_port, server_executable
from .running import STOP_WITHIN

TASKS = []
task = registering(TASKS)
CHANNEL = "holberton school channel"


def redis_cli():
    bundled = Path(server_executable()).with_name("redis-cli")
    return str(bundled) if bundled.exists() else shutil.which("redis-cli")


# Task 0


@task(0, "a Redis server, redis-cli and dump.rdb", ["dump.rdb"])
def task_0(trial):
    cli = redis_cli()
    if cli:  # the grader's own redis-cli on the task's Redis: nothing of the port's in it, no sandbox
        for words, want in (
            (["ping"], "PONG"),
            (["set", "Holberton", "School"], "OK"),
            (["get", "Holberton"], "School"),
        ):
            trial.command(f"redis-cli {' '.join(words)}")
            try:
                done = subprocess.run(
                    [cli, "--no-auth-warning", "-u", trial.redis_url, *words],
                    capture_output=True,
                    text=True,
                    timeout=10,
                )
                answered = done.stdout.splitlines()
            except (OSError, subprocess.TimeoutExpired) as error:
                answered = [str(error)]
            trial.transcript.extend(answered[:3])
            if answered != [want]:
                trial.note(f"redis-cli {' '.join(words)} answered {answered}, not {want!r}")
    rdb = trial.port_dir / "dump.rdb"
    header = rdb.read_bytes()[:9]
    if not header.startswith(b"REDIS"):
        trial.fail(
            f"dump.rdb is not an RDB file (it starts with {header!r}): copy the dump.rdb your Redis server "
            "saved (SAVE, or redis-cli shutdown save)."
        )
        return
    version = int(header[5:9]) if header[5:9].isdigit() else 0
    if version > 9:
        trial.lenient(
            f"dump.rdb is RDB version {version}, written by Redis 7 or later: Redis 6.2 cannot load it "
            "(the spec's loads on 6.2 and 7.x: save it with Redis 6.2)."
        )
    trial.command("redis-server --dir <a copy of .> --dbfilename dump.rdb; redis-cli get Holberton")
    value = rdb_value(trial)
    if value is None:
        return
    trial.transcript.append(str(value))
    if value != "School":
        trial.fail(f"dump.rdb holds Holberton = {value!r}; the exercise's holds Holberton = 'School'.")
    if not (trial.port_dir / "README.md").is_file():
        trial.lenient("no README.md: task 0's README says how to start a Redis server and use redis-cli.")


def rdb_value(trial):
    """Holberton's value in dump.rdb, read by a redis-server started on it, in the port's
    sandbox (the file is the port's: it is parsed there); None, said, if it does not load."""
    port = free_port()
    argv = [server_executable(), "--port", str(port), "--bind", "127.0.0.1", "--dir", trial.where()]
    argv += ["--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--daemonize", "no"]
    server = trial.start_command("redis-server (dump.rdb)", argv)
    client = redis.Redis(port=port, decode_responses=True, socket_timeout=5)
    try:
        deadline = time.monotonic() + WAIT
        while server.running() and time.monotonic() < deadline:
            try:
                return client.get("Holberton")
            except redis.BusyLoadingError:
                pass
            except (redis.ConnectionError, OSError):
                pass
            server.wait_until(lambda: False, 0.05)
        said = [line for line in server.lines() if line.strip()]
        trial.fail("redis-server cannot load dump.rdb:", diffs.tail("\n".join(said), 4))
        return None
    finally:
        client.close()
        server.stop()


# Tasks 1-4


@task(1, "0_redis_client.py: connect", ["0_redis_client.py"])
def task_1(trial):
    run_to_end(trial, "0_redis_client.py", [expected.CONNECTED])


@task(2, "1_redis_op.py: strings, plain calls", ["1_redis_op.py"])
def task_2(trial):
    trial.client.set("Holberton", "School")  # what dump.rdb holds: task 0 judges dump.rdb itself
    run_to_end(trial, "1_redis_op.py", expected.REDIS_OP)


@task(3, "2_redis_op_async.py: strings, async/await", ["2_redis_op_async.py"])
def task_3(trial):
    trial.client.set("Holberton", "School")
    run_to_end(trial, "2_redis_op_async.py", expected.REDIS_OP)


@task(4, "4_redis_advanced_op.py: a hash", ["4_redis_advanced_op.py"])
def task_4(trial):
    run_to_end(trial, "4_redis_advanced_op.py", expected.ADVANCED_OP_FIRST_RUN)


# Task 5


def subscribers(client, channel=CHANNEL):
    try:
        return client.pubsub_numsub(channel)[0][1]
    except (redis.RedisError, OSError, IndexError):
        return 0


class ChannelWatch:
    """Every message published on any channel while a task runs, as the grader hears it
    (a pattern subscription: PUBSUB NUMSUB does not count it), with how many subscribers
    its channel had then."""

    def __init__(self, client):
        self.client = client
        self.heard = []  # (channel, message, subscribers)
        self.lock = threading.Lock()
        self.pubsub = client.pubsub()
        self.pubsub.psubscribe(**{"*": self.hear})
        self.thread = self.pubsub.run_in_thread(sleep_time=0.05, daemon=True)

    def hear(self, message):
        channel = message["channel"].decode(errors="replace")
        data = message["data"].decode(errors="replace")
        with self.lock:
            self.heard.append((channel, data, subscribers(self.client, channel)))

    def since(self, index):
        with self.lock:
            return self.heard[index:]

    def mark(self):
        with self.lock:
            return len(self.heard)

    def settle(self, began, count, within=0.2):
        """Give the messages published since `began` their way to the grader's own
        subscription: until `count` came, `within` seconds at most."""
        deadline = time.monotonic() + within
        while len(self.since(began)) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self):
        self.thread.stop()
        self.thread.join(2)
        self.pubsub.close()


@task(5, "5_subscriber.py + 5_publisher.py: pub/sub (two terminals)", ["5_subscriber.py", "5_publisher.py"])
def task_5(trial):
    """The port's two files together, as a student runs them, every message heard by the
    grader too: the publisher is judged by what it published (on which channel, what),
    whoever listened; the subscriber by what it printed of what it received, and, when the
    port's publisher published something else, again beside this repository's publisher,
    a partner known to be right. A mistake fails the file that made it."""
    watch = ChannelWatch(trial.client)
    try:
        trial.command("python 5_subscriber.py   # terminal 1")
        subscriber, subscribed = start_subscriber(trial)
        trial.command("python 5_publisher.py    # terminal 2")
        right = judge_publisher(trial, watch)
        if right or not subscribed:
            judge_subscriber(trial, subscriber, subscribed)
            return
        subscriber.stop()  # what it printed was another's mistake: it is heard again, beside ours
        subscriber.wait_gone()
        trial.command("python 5_subscriber.py   # terminal 1, again")
        subscriber, subscribed = start_subscriber(trial)
        trial.command("python 5_publisher.py    # terminal 2: this repository's, a partner known to be right")
        publisher = trial.start_partner("5_publisher.py")
        if publisher:
            publisher.wait(RUN_TIMEOUT)
            judge_subscriber(trial, subscriber, subscribed)
            publisher.stop()
        else:
            subscriber.stop()
            trial.skip(
                "5_subscriber.py got other messages than the exercise's, and this repository's "
                "5_publisher.py is not where the grader runs"
            )
    finally:
        watch.close()


def start_subscriber(trial):
    subscriber = trial.start("5_subscriber.py")
    return subscriber, subscriber.wait_until(lambda: subscribers(trial.client) >= 1, WAIT)


def judge_subscriber(trial, subscriber, subscribed):
    name = "5_subscriber.py"
    if not subscribed:
        subscriber.stop()
        trial.show(subscriber, "[subscriber] ")
        if not trial.ended_badly(subscriber):
            channels = sorted(name.decode(errors="replace") for name in trial.client.pubsub_channels())
            elsewhere = (
                f"it subscribed to {', '.join(map(repr, channels))}" if channels else "nothing subscribed"
            )
            trial.fail(
                f"waited {WAIT}s for {name} to subscribe to {CHANNEL!r} (PUBSUB NUMSUB); {elsewhere}.",
                script=name,
            )
        expect_lines(trial, subscriber, expected.SUBSCRIBER)
        trial.redis_hint(subscriber)
        return
    if subscriber.wait(STOP_WITHIN) is None:
        subscriber.stop()
        trial.fail(
            f"{name} was still running {STOP_WITHIN}s after the publisher's last message: the "
            "exercise's subscriber unsubscribes and exits when it gets KILL_SERVER.",
            script=name,
        )
    else:
        trial.ended_badly(subscriber)
    trial.show(subscriber, "[subscriber] ")
    expect_lines(trial, subscriber, expected.SUBSCRIBER)


def judge_publisher(trial, watch):
    """Run the port's publisher and judge it by its lines and what it published; True if
    it published the exercise's messages on the exercise's channel."""
    name = "5_publisher.py"
    began = watch.mark()
    publisher = trial.run(name, timeout=RUN_TIMEOUT)
    trial.show(publisher, "[publisher] ")
    if publisher.timed_out:
        trial.fail(f"{name} was still running {RUN_TIMEOUT}s after it started: stopped.", script=name)
    else:
        trial.ended_badly(publisher)
    expect_lines(trial, publisher, expected.PUBLISHER)
    watch.settle(began, len(expected.PUBLISHER) - 1)
    published = watch.since(began)
    elsewhere = [(channel, subscribed) for channel, _data, subscribed in published if channel != CHANNEL]
    if elsewhere:
        channel, subscribed = elsewhere[0]
        trial.fail(
            f"{name} published to {channel}: {subscribed} subscriber{'' if subscribed == 1 else 's'}. "
            f"The exercise's channel is {CHANNEL!r}.",
            script=name,
        )
    messages = [data for channel, data, _subscribed in published if channel == CHANNEL]
    want = [line.removeprefix("About to send ") for line in expected.PUBLISHER[1:]]
    if not elsewhere and messages != want and not publisher.timed_out:
        trial.fail(
            f"{name} published other messages on {CHANNEL!r} than the exercise's:",
            diffs.unified(want, messages, "expected", "published"),
            name,
        )
    trial.redis_hint(publisher)
    return messages == want and not elsewhere
