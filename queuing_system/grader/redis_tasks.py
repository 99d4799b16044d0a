"""Tasks 0-5: a Redis server and dump.rdb, the redis-py scripts, pub/sub in two terminals."""

import shutil
from pathlib import Path

import redis

from . import diffs, expected
from .checks import RUN_TIMEOUT, WAIT, expect_lines, registering, run_to_end
from .redis_server import RedisServer, server_executable
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
    if cli:
        for words, want in (
            (["ping"], "PONG"),
            (["set", "Holberton", "School"], "OK"),
            (["get", "Holberton"], "School"),
        ):
            trial.command(f"redis-cli {' '.join(words)}")
            done = trial.run(
                "redis-cli", timeout=10, argv=[cli, "--no-auth-warning", "-u", trial.redis_url, *words]
            )
            trial.show(done)
            if done.lines() != [want]:
                trial.note(f"redis-cli {' '.join(words)} answered {done.lines()}, not {want!r}")
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
    log = trial.port_dir.parent / "task0-redis.log"
    server = RedisServer(rdb=rdb, log=log)
    try:
        server.start()
        value = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=5).get("Holberton")
    except (RuntimeError, redis.RedisError, OSError):
        said = diffs.tail(log.read_text(errors="replace"), 4) if log.exists() else []
        trial.fail("redis-server cannot load dump.rdb:", said)
        return
    finally:
        server.close()
    trial.transcript.append(str(value))
    if value != "School":
        trial.fail(f"dump.rdb holds Holberton = {value!r}; the exercise's holds Holberton = 'School'.")
    if not (trial.port_dir / "README.md").is_file():
        trial.lenient("no README.md: task 0's README says how to start a Redis server and use redis-cli.")


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


def subscribers(client):
    try:
        return client.pubsub_numsub(CHANNEL)[0][1]
    except (redis.RedisError, OSError, IndexError):
        return 0


@task(5, "5_subscriber.py + 5_publisher.py: pub/sub (two terminals)", ["5_subscriber.py", "5_publisher.py"])
def task_5(trial):
    trial.command("python 5_subscriber.py   # terminal 1")
    subscriber = trial.start("5_subscriber.py")
    if not subscriber.wait_until(lambda: subscribers(trial.client) >= 1, WAIT):
        subscriber.stop()
        trial.show(subscriber, "[subscriber] ")
        if not trial.ended_badly(subscriber):
            channels = sorted(name.decode(errors="replace") for name in trial.client.pubsub_channels())
            elsewhere = (
                f"it subscribed to {', '.join(map(repr, channels))}" if channels else "nothing subscribed"
            )
            trial.fail(
                f"waited {WAIT}s for 5_subscriber.py to subscribe to {CHANNEL!r} (PUBSUB "
                f"NUMSUB); {elsewhere}.",
                script="5_subscriber.py",
            )
        expect_lines(trial, subscriber, expected.SUBSCRIBER)
        trial.redis_hint(subscriber)
        return
    trial.command("python 5_publisher.py    # terminal 2")
    publisher = trial.run("5_publisher.py", timeout=RUN_TIMEOUT)
    trial.show(publisher)
    if publisher.timed_out:
        trial.fail(
            f"5_publisher.py was still running {RUN_TIMEOUT}s after it started: stopped.",
            script="5_publisher.py",
        )
    else:
        trial.ended_badly(publisher)
    if subscriber.wait(STOP_WITHIN) is None:
        subscriber.stop()
        trial.fail(
            f"5_subscriber.py was still running {STOP_WITHIN}s after the publisher's last message: the "
            "exercise's subscriber unsubscribes and exits when it gets KILL_SERVER.",
            script="5_subscriber.py",
        )
    else:
        trial.ended_badly(subscriber)
    trial.show(subscriber, "[subscriber] ")
    expect_lines(trial, publisher, expected.PUBLISHER)
    expect_lines(trial, subscriber, expected.SUBSCRIBER)
    trial.redis_hint(publisher)
