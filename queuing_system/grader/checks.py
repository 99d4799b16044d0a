"""What the tasks share: the record of a task, how long the grader waits, and judging a
script's stdout, its end and its stop."""

from dataclasses import dataclass

import redis

from . import diffs, expected
from .running import STOP_WITHIN

WAIT = 20  # seconds the grader waits for a line, a subscription, an app to listen
JOBS_WAIT = 30  # seconds it waits for a creator to hear the outcome of all its jobs
RUN_TIMEOUT = 20  # seconds a script that should end by itself may run
GRACE = 5  # seconds a creator has to exit once it has printed every outcome
TESTS_TIMEOUT = 120  # seconds the port's tests may run
EXERCISE_PORT = 1245  # the apps' port in the exercise


@dataclass
class Task:
    number: int
    title: str
    files: tuple  # the files it grades: one missing fails it
    run: object
    needs: tuple = ()  # files it runs and does not grade: one missing, it is not judged


def registering(tasks):
    """A decorator that adds a task to `tasks`: @task(number, title, files graded, files needed)."""

    def task(number, title, files, needs=()):
        def register(function):
            tasks.append(Task(number, title, tuple(files), function, tuple(needs)))
            return function

        return register

    return task


def connections(client):
    """How many connections the Redis has taken so far (a script that never connected
    to REDIS_URL adds none)."""
    try:
        return int(client.info("stats")["total_connections_received"])
    except (redis.RedisError, OSError, KeyError, ValueError):
        return None


def expect_lines(trial, script, want):
    """Judge a script's whole stdout against the lines it should print."""
    if script.overflowed:
        return False  # said once, with its first lines (Trial.ended_badly)
    got = script.lines()
    name = script.name
    if got != want:
        trial.fail(
            f"{name}'s stdout differs from the exercise's:", diffs.unified(want, got, "expected", name), name
        )
        return False
    if trial.strict and script.out_bytes != expected.transcript(want).encode():
        text = script.out_bytes.decode("utf-8", "backslashreplace")
        trial.fail(
            f"{name}'s stdout is not the spec's, byte for byte:",
            diffs.unified(
                diffs.body_lines(expected.transcript(want)), diffs.body_lines(text), "expected", name
            ),
            name,
        )
        return False
    return True


def run_to_end(trial, name, want):
    """Run a script that ends by itself and judge its stdout."""
    trial.command(f"python {name}")
    before = connections(trial.client)
    script = trial.run(name, timeout=RUN_TIMEOUT)
    trial.show(script)
    if script.timed_out:
        trial.fail(
            f"{name} was still running {RUN_TIMEOUT}s after it started: stopped. The exercise's script "
            f"ends once it has printed its lines (it printed {len(script.lines())} of {len(want)}).",
            script=name,
        )
    else:
        trial.ended_badly(script)
    matched = expect_lines(trial, script, want)
    trial.redis_hint(script)
    after = connections(trial.client)
    if matched and before is not None and after == before:
        trial.fail(
            f"{name} never connected to the Redis at REDIS_URL ({trial.redis_url}): it ignores REDIS_URL. "
            "Connect with redis.Redis.from_url(os.environ.get('REDIS_URL', 'redis://localhost:6379')).",
            script=name,
        )
    return script


def stop_long_running(trial, script, what="scripts"):
    """Stop a script that runs until stopped (SIGTERM, as `kill` does) and judge how it
    ended: exit 0 within 5 s is the spec's; the exercise does not ask it."""
    code = script.stop()
    judge_stop(trial, script, code, what)
    return code


def judge_stop(trial, script, code, what):
    """How a script ended when the grader asked it to stop (code None: it had to be killed)."""
    if code is None:
        trial.lenient(
            f"{script.name} did not stop within {STOP_WITHIN}s of SIGTERM: killed. The spec's {what} stop "
            "within 5 s (RQ's workers finish the job in hand first).",
            script=script.name,
        )
    elif code != 0:
        trial.lenient(
            f"{script.name} exited {code} on SIGTERM; the spec's {what} exit 0 "
            "(signal.signal(signal.SIGTERM, ...) to stop cleanly).",
            script=script.name,
        )
