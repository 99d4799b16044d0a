"""Tasks 6-11: the notification jobs, each file judged beside a partner known to be right.

A creator (tasks 6, 8, 10) runs beside the grader's own RQ worker, which serves the
exercise's queue the exercise's way and runs whatever function the creator's jobs name,
from the port (in the port's sandbox). A processor (tasks 7, 9) gets its jobs from the
grader's own creator, which puts the exercise's data on the exercise's queue in the shape
the port's own creator gives its jobs (jobshape.py). So one file's mistake fails its own
task and never SKIPs or fails another file's.

A creator owns its created lines, its jobs (queue, data, ids) and the form of its event
lines, and must print what really happened to its jobs (their status and failure message,
as RQ keeps them in Redis, and the progress their function reported). A processor owns
its own lines, which jobs fail and with what message, and the progress it reports, judged
from what it wrote to Redis (monitor.py).
"""

import json
import re
import signal
import sys
import time
from dataclasses import dataclass, field

from . import diffs, evidence, expected, jobshape
from .checks import GRACE, JOBS_WAIT, TESTS_TIMEOUT, WAIT, judge_stop, registering
from .evidence import PICKLE, WorkerWatch, all_ended, on_queue, seen_jobs
from .monitor import CommandWatch, progress_reports

TASKS = []
task = registering(TASKS)
CREATED = re.compile(r"^Notification job created: (\S+)$")
EVENT = re.compile(r"^Notification job (\S+) (?:(\d+)% complete|(completed)|failed: (.*))$")
TASK6_QUEUE, TASK8_QUEUE, TASK10_QUEUE = (
    "push_notification_code",
    "push_notification_code_2",
    "push_notification_code_3",
)
TEST_FILES = ("tests/test_8_job.py", "test_8_job.py", "tests/8_job_test.py", "8_job_test.py")
PARTNER = " (the grader's: a partner known to be right)"
SETTLED = 3  # seconds a run may go on once nothing more can happen in it
POOL_WAIT = 5  # seconds a processor's pool may take to start all its workers


def test_file(port_dir):
    """The port's tests of 8_job.py, where a student may have put them."""
    for name in TEST_FILES:
        if (port_dir / name).is_file():
            return name
    return None


@dataclass
class Run:
    """What one run of a file beside its partner left: their output and what Redis saw."""

    creator: object = None
    processor: object = None
    jobs: dict = field(default_factory=dict)
    workers: object = None
    progress: dict = field(default_factory=dict)  # job id -> the progress its function reported
    kept_running: bool = False  # the creator had to be stopped after its last outcome
    timed_out: bool = False  # it still waited for outcomes at the deadline
    processor_code: object = None
    shape: object = None  # the jobs' shape the grader's creator used (tasks 7, 9)
    helpers: list = field(default_factory=list)  # the grader's RQ workers (tasks 6, 8)


def created_ids(lines, count):
    ids = []
    for line in lines[:count]:
        match = CREATED.match(line)
        if match:
            ids.append(match.group(1))
    return ids


def outcomes_printed(lines, count, with_ids):
    """Has the creator printed an outcome line for each of its `count` jobs?"""
    ids = created_ids(lines, count)
    if len(ids) < count:
        return False
    if not with_ids:
        return any(
            line in ("Notification job completed", "Notification job failed") for line in lines[count:]
        )
    done = set()
    for line in lines[count:]:
        match = EVENT.match(line)
        if match and (match.group(3) or match.group(4) is not None):
            done.add(match.group(1))
    return set(ids) <= done


def rq_worker(url, queue, serializer, burst=False):
    """RQ's own worker as the README runs it, without a fork per job. (Two of them are two
    at a time: `rq worker-pool` takes 2 s to stop, a worker 0.1 s.)"""
    argv = [sys.executable, "-m", "rq.cli", "worker", "--url", url, "--serializer", serializer]
    argv += ["--worker-class", "rq.worker.SimpleWorker", "--quiet"] + ["--burst"] * burst
    return [*argv, queue]


def wrong_queue(jobs, queue):
    """The queues a creator put its jobs on, if none is `queue`."""
    if on_queue(jobs, queue):
        return []
    return sorted({job.queue for job in jobs.values() if job.queue})


def run_creator(trial, name, queue, count, workers):
    """The port's creator (of `count` jobs) beside `workers` of the grader's own RQ workers
    (the jobs' serializer), until the creator has printed every outcome or nothing more
    can come."""
    run = Run(workers=WorkerWatch(trial.client))
    watch = CommandWatch(trial.redis_url)
    try:
        trial.command(f"python {name}   # terminal 1")
        creator = run.creator = trial.start(name)
        creator.wait_until(
            lambda: (
                len(created_ids(creator.complete_lines(), count)) >= count
                or wrong_queue(seen_jobs(trial.client), queue)
            ),
            WAIT,
        )
        jobs = seen_jobs(trial.client)
        mine = on_queue(jobs, queue)
        if mine:
            shape = jobshape.from_job(mine[0], f"{name}'s jobs")
            if shape:
                trial.memory[queue] = shape
            serializer = "json" if mine[0].serializer == evidence.JSON else "pickle"
            for number in range(1, workers + 1):
                terminal = f"terminal {number + 1}{PARTNER}"
                trial.command(f"rq worker --serializer {serializer} {queue}   # {terminal}")
                run.helpers.append(
                    trial.start_command(
                        f"rq worker {number}{PARTNER}", rq_worker(trial.redis_url, queue, serializer)
                    )
                )
            wait_for_outcomes(trial, run, [job.id for job in mine], count)
        if creator.running():
            creator.stop()
        else:
            creator.settle()
        for worker in run.helpers:
            worker.send(signal.SIGTERM)
        for worker in run.helpers:
            worker.stop()
        run.jobs = seen_jobs(trial.client)
        run.progress = progress_reports(watch.seen(), run.jobs)
    finally:
        watch.close()
    return run


def wait_for_outcomes(trial, run, ids, count):
    creator = run.creator
    quiet_since = None

    def settled():
        nonlocal quiet_since
        if outcomes_printed(creator.complete_lines(), count, with_ids=count > 1):
            return True
        if all_ended(trial.client, ids) or not any(worker.running() for worker in run.helpers):
            quiet_since = quiet_since or time.monotonic()  # the creator has what it needs to say
            return time.monotonic() - quiet_since > GRACE
        return False

    creator.wait_until(settled, JOBS_WAIT)
    if creator.running():
        if outcomes_printed(creator.complete_lines(), count, with_ids=count > 1):
            run.kept_running = creator.wait(GRACE) is None
        else:
            run.timed_out = True


def forget_the_run(trial):
    """Empty the task's Redis of what a killed script made, and of what it had sent yet: a
    job sent before its kill and read by Redis after a plain FLUSHDB stayed, the first of
    the task's jobs. On the grader's own redis-server its clients' connections are closed
    first, whatever they held unread; a Redis others may use is only emptied."""
    if not trial.own_redis:
        trial.client.flushdb()
        return
    with trial.client.pipeline(transaction=True) as pipe:
        pipe.execute_command("CLIENT KILL", "TYPE", "normal", "SKIPME", "yes")
        pipe.flushdb()
        pipe.execute()


def learn_shape(trial, creator_name, processor_name, queue):
    """The shape of the port's jobs on `queue`: learned from its creator's jobs in an earlier
    task, else by running its creator alone until it made one, else read from the
    processor's file; None if none of them tells."""
    if queue in trial.memory:
        return trial.memory[queue]
    if (trial.port_dir / creator_name).is_file():
        creator = trial.start_command(
            f"{creator_name} (alone, for its jobs' shape)", [sys.executable, creator_name]
        )
        creator.wait_until(lambda: bool(seen_jobs(trial.client)), WAIT)
        creator.kill()
        creator.wait_gone()
        jobs = seen_jobs(trial.client)
        forget_the_run(trial)
        ordered = on_queue(jobs, queue) or sorted(jobs.values(), key=lambda job: job.created_at)
        for job in ordered:
            shape = jobshape.from_job(job, f"{creator_name}'s jobs")
            if shape:
                trial.memory[queue] = shape
                return shape
    module = processor_name.removesuffix(".py")
    return jobshape.from_source(trial.port_dir / processor_name, module)


def run_processor(trial, creator_name, processor_name, queue, data, workers=1):
    """The port's processor, then the grader's own creator with the exercise's jobs in the
    port's shape; until every job ended or nothing more can come. The jobs come once the
    processor serves `queue` with the `workers` its task asks, or it is given up on: a pool's
    workers start one by one, and the first alone can take all the jobs before the next is up."""
    shape = learn_shape(trial, creator_name, processor_name, queue)
    if shape is None:
        return None
    run = Run(workers=WorkerWatch(trial.client), shape=shape)
    watch = CommandWatch(trial.redis_url)
    try:
        trial.command(f"python {processor_name}   # terminal 1")
        processor = run.processor = trial.start(processor_name)
        # Ready when it registered an RQ worker, on any queue (if it runs RQ workers at all).
        processor.wait_until(lambda: run.workers.look() or run.workers.seen, 5)
        if run.workers.seen:
            serving = lambda: run.workers.look() or run.workers.most.get(queue, 0) >= workers  # noqa: E731
            processor.wait_until(serving, POOL_WAIT)
        spec = {"queue": queue, "function": shape.function, "serializer": shape.serializer}
        spec["calls"] = [shape.call(phone, message) for phone, message in data]
        trial.command(
            f"python grader_creator.py   # terminal 2{PARTNER}: {len(data)} job{'s' * (len(data) > 1)} "
            f"on {queue}, as {shape.source} are: {shape.words()}"
        )
        run.creator = trial.start_command(
            f"grader_creator.py{PARTNER}",
            [sys.executable, "grader_creator.py", json.dumps(spec)],
            view=trial.partners,
        )
        run.creator.wait(WAIT)
        wait_for_jobs(trial, run, queue, len(data))
        run.processor_code = processor.stop()
        run.jobs = seen_jobs(trial.client)
        run.progress = progress_reports(watch.seen(), run.jobs)
    finally:
        watch.close()
    return run


def wait_for_jobs(trial, run, queue, count):
    processor = run.processor
    since = time.monotonic()
    ended = None
    ids = [job.id for job in on_queue(seen_jobs(trial.client), queue)]  # the grader's creator made them

    def settled():
        nonlocal ended
        run.workers.look()
        if len(ids) >= count and all_ended(trial.client, ids):
            return True
        if not processor.running():
            ended = ended or time.monotonic()
            return time.monotonic() - ended > SETTLED  # it will not process anything now
        served = run.workers.queues()
        return bool(served) and queue not in served and time.monotonic() - since > SETTLED

    processor.wait_until(settled, JOBS_WAIT)


def processor_end(trial, run):
    """A processor runs until it is stopped, then stops cleanly (the spec: exit 0 within 5 s)."""
    processor = run.processor
    if processor.stopped:
        judge_stop(trial, processor, run.processor_code, "processors")
    elif not trial.ended_badly(processor):
        trial.fail(
            f"{processor.name} ended by itself (exit 0): the exercise's processor runs until it is stopped.",
            script=processor.name,
        )


def job_ids_problems(trial, name, ids, jobs, queue, count):
    """Ids that are not the jobs' own, Kue's integer ids under --strict, repeated ids."""
    on_it = on_queue(jobs, queue)
    if len(set(ids)) < len(ids):
        trial.fail(
            f"{name} prints the same job id for several jobs ({', '.join(ids)}): print each job's job.id.",
            script=name,
        )
    strangers = [job_id for job_id in ids if job_id not in jobs]
    if on_it and strangers:
        trial.fail(
            f"{name} prints ids that are not its jobs' ({', '.join(strangers[:3])}"
            f"{', ...' if len(strangers) > 3 else ''}); the jobs it made on {queue} have the ids "
            f"{', '.join(job.id for job in on_it[:3])}{', ...' if len(on_it) > 3 else ''}: print job.id.",
            script=name,
        )
    kue = [str(number) for number in range(1, count + 1)]
    if trial.strict and ids and ids != kue:
        trial.fail(
            f"{name}'s job ids are {', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''}: the "
            "spec's are Kue's, integers from one counter shared by every queue "
            f"({', '.join(kue[:3])}{', ...' if count > 3 else ''} on an empty Redis), given as RQ's job_id.",
            script=name,
        )


def job_data_problems(trial, name, jobs_in_order, data, queue, all_jobs):
    """The jobs a creator made: on its queue, with the exercise's data; JSON under --strict,
    advice by default (RQ's pickle runs nothing outside the port's sandbox)."""
    if not jobs_in_order:
        queues = sorted({job.queue for job in all_jobs.values() if job.queue})
        if queues:
            whose = "job is" if len(data) == 1 else "jobs are"
            trial.fail(f"{name}'s {whose} on {', '.join(queues)}, not on {queue}.", script=name)
        else:
            trial.fail(f"{name} put no job on {queue}.", script=name)
        return
    wrong = []
    for job, want in zip(jobs_in_order, data, strict=False):
        got = job.notification()
        if job.readable and got != tuple(want):
            wrong.append(f"job {job.id}: {dict(phoneNumber=got[0], message=got[1]) if got else job.args}")
    if len(jobs_in_order) != len(data):
        trial.fail(
            f"{name} made {len(jobs_in_order)} jobs on {queue}; the exercise makes {len(data)}.", script=name
        )
    if wrong:
        trial.fail(
            f"{name}'s jobs do not carry the exercise's data (phoneNumber, message), in its order:",
            wrong[:5] + ([f"… and {len(wrong) - 5} more"] if len(wrong) > 5 else []),
            script=name,
        )
    if any(job.serializer == PICKLE for job in jobs_in_order):
        trial.lenient(pickled(name, queue, "the spec stores every job as JSON, never pickle"), script=name)
    elif trial.strict and not all(job.spec_shaped() for job in jobs_in_order):
        trial.fail(
            f"{name}'s jobs take other arguments than the spec's one dict "
            '{"phoneNumber": ..., "message": ...}.',
            script=name,
        )


def pickled(name, queue, why):
    return (
        f"{name} stores its jobs on {queue} with pickle (RQ's default serializer): {why}. Make the "
        f"queue with Queue({queue!r}, connection=..., serializer=JSONSerializer) "
        "(from rq.serializers import JSONSerializer)."
    )


def jobs_by_ids(run, ids, queue):
    """The creator's jobs on `queue` in its order: by the ids it printed, else as Redis has them."""
    found = [run.jobs[job_id] for job_id in ids if job_id in run.jobs and run.jobs[job_id].queue == queue]
    return found if found and len(found) == len(ids) else on_queue(run.jobs, queue)


def unrunnable(trial, name, jobs, processor_name):
    """A job whose function the worker could not import: the creator names a function its
    processor does not define (its task fails), or the processor's file does not import
    (its own task says why). True if the creator's jobs could not be judged for it."""
    job = next((job for job in jobs if cannot_import(job)), None)
    if job is None:
        return False
    if evidence.error_type(job.traceback) == "AttributeError":
        trial.fail(
            f"{name}'s jobs name the function {job.function!r}, which an RQ worker in the port's "
            f"directory cannot find: {job.error}",
            script=name,
        )
    else:
        trial.skip(
            f"its jobs' function {job.function!r} cannot be imported ({job.error}): "
            f"{processor_name}'s task says why"
        )
    return True


# Task 6


@task(
    6,
    "6_job_creator.py: one job, created before any processor runs",
    ["6_job_creator.py"],
    ["6_job_processor.py"],
)
def task_6(trial):
    run = run_creator(trial, "6_job_creator.py", TASK6_QUEUE, 1, workers=1)
    trial.show(run.creator, "[creator] ")
    judge_creator_6(trial, run)


def judge_creator_6(trial, run):
    name = "6_job_creator.py"
    creator = run.creator
    lines = creator.lines()
    ids = created_ids(lines, 1)
    trial.ended_badly(creator)
    job_ids_problems(trial, name, ids, run.jobs, TASK6_QUEUE, 1)
    jobs = jobs_by_ids(run, ids, TASK6_QUEUE)
    job_data_problems(trial, name, jobs, [expected.TASK6_DATA], TASK6_QUEUE, run.jobs)
    if not jobs or unrunnable(trial, name, jobs, "6_job_processor.py"):
        return
    job = jobs[0]
    shown_id = ids[0] if ids else job.id
    outcome = {"finished": "Notification job completed", "failed": "Notification job failed"}.get(job.status)
    if outcome is None:
        trial.skip(
            f"its job never ended (still {job.status or 'queued'}): its function {job.function!r} did not "
            "return within the grader's wait (6_job_processor.py's task says more)"
        )
        return
    want = [expected.created(shown_id), outcome]
    if lines != want:
        trial.fail(
            f"{name}'s stdout differs from what happened to its job:",
            diffs.unified(want, lines, "expected", name),
            name,
        )
    judge_creator_end(trial, run, name)


def judge_creator_end(trial, run, name):
    if run.kept_running:
        trial.lenient(
            f"{name} kept running after it printed the outcome of its jobs: stopped. The spec's creator "
            "exits 0 once every job has completed or failed.",
            script=name,
        )
    if run.timed_out and not trial.findings.skipped and not trial.findings.problems:
        trial.fail(
            f"{name} did not print the outcome of all its jobs, though they ended (waited {GRACE}s more).",
            script=name,
        )
    trial.redis_hint(run.creator)


# Task 7


@task(7, "6_job_processor.py: processes push_notification_code", ["6_job_processor.py"])
def task_7(trial):
    run = run_processor(trial, "6_job_creator.py", "6_job_processor.py", TASK6_QUEUE, [expected.TASK6_DATA])
    if run is None:
        return no_shape(trial, "6_job_creator.py", "6_job_processor.py", TASK6_QUEUE)
    trial.show(run.processor, "[processor] ")
    trial.show(run.creator, "[creator] ")
    judge_processor_7(trial, run)


def no_shape(trial, creator_name, processor_name, queue):
    trial.skip(
        f"the grader cannot tell which function of {processor_name} runs a job of {queue}: {creator_name} "
        "made no job it could read, and it defines no function of one argument (the job's data)"
    )


def processor_lines(trial, processor, want):
    """A processor's stdout: all its expected lines; others are advice (RQ's worker logs)
    by default, wrong under --strict."""
    got = processor.lines()
    missing = list(want)
    for line in got:
        if line in missing:
            missing.remove(line)
    extra = len(got) - (len(want) - len(missing))
    if missing:
        trial.fail(
            f"{processor.name}'s stdout differs from the exercise's:",
            diffs.unordered(want, got),
            processor.name,
        )
    elif extra:
        sample = next(line for line in got if line not in want)
        trial.lenient(
            f"{processor.name} printed {extra} other line{'s' if extra > 1 else ''} on stdout besides the "
            f"exercise's (the first: {diffs.cut(diffs.visible(sample), 100)!r}); the spec's prints nothing "
            "else there (RQ's worker logs to stdout: log at WARNING, or to stderr).",
            diffs.unordered(want, got),
            processor.name,
        )


def unfinished_problem(trial, name, jobs, run, queue):
    left = [job for job in jobs if not job.final]
    if not left:
        return
    served = run.workers.queues()
    if served:
        where = f"its RQ workers served {', '.join(served)}"
    else:
        where = "no RQ worker registered (is it running one?)"
    trial.fail(
        f"{name} left {len(left)} of the {len(jobs)} jobs on {queue} unfinished "
        f"({', '.join(sorted({job.status or 'unknown' for job in left}))}); {where}.",
        script=name,
    )


def judge_processor_7(trial, run):
    name = "6_job_processor.py"
    processor_end(trial, run)
    jobs = on_queue(run.jobs, TASK6_QUEUE)
    ran = [job for job in jobs if job.final]  # a job it never took shows in no line
    processor_lines(trial, run.processor, [expected.sending(*expected.TASK6_DATA) for _job in ran])
    for job in jobs:
        if job.status == "failed":
            trial.fail(f"{name} failed job {job.id}: {job.error}", script=name)
    unfinished_problem(trial, name, jobs, run, TASK6_QUEUE)
    trial.redis_hint(run.processor)


# Task 8


@task(8, "7_job_creator.py: 11 jobs, progress and failures", ["7_job_creator.py"], ["7_job_processor.py"])
def task_8(trial):
    run = run_creator(trial, "7_job_creator.py", TASK8_QUEUE, len(expected.TASK8_DATA), workers=2)
    trial.show(run.creator, "[creator] ")
    judge_creator_8(trial, run)


def events_of(lines, job_id):
    mine = []
    for line in lines:
        match = EVENT.match(line)
        if match and match.group(1) == job_id:
            mine.append(line)
    return mine


def is_progress(line):
    match = EVENT.match(line)
    return bool(match and match.group(2) is not None)


def seen_outcome(job_id, job):
    """The outcome line the creator must print, as Redis saw the job end (None: unknown)."""
    if job is None:
        return None
    if job.status == "finished":
        return f"Notification job {job_id} completed"
    if job.status == "failed" and job.error is not None:
        return f"Notification job {job_id} failed: {job.error}"
    return None


def judge_creator_8(trial, run):
    name = "7_job_creator.py"
    data = expected.TASK8_DATA
    lines = run.creator.lines()
    head, tail = lines[: len(data)], lines[len(data) :]
    ids = created_ids(lines, len(data))
    trial.ended_badly(run.creator)
    if len(ids) < len(data):
        placeholder = ids + [f"<id {n}>" for n in range(len(ids) + 1, len(data) + 1)]
        trial.fail(
            f"{name} should first print one `Notification job created: JOB_ID` line per job, 11 of them:",
            diffs.unified([expected.created(job_id) for job_id in placeholder], head, "expected", name),
            name,
        )
    job_ids_problems(trial, name, ids, run.jobs, TASK8_QUEUE, len(data))
    jobs = jobs_by_ids(run, ids, TASK8_QUEUE)
    job_data_problems(trial, name, jobs, data, TASK8_QUEUE, run.jobs)
    if not jobs or unrunnable(trial, name, jobs, "7_job_processor.py"):
        return
    strange = [line for line in tail if not EVENT.match(line)]
    if strange:
        trial.fail(
            f"{name} printed lines in none of the exercise's forms (`Notification job JOB_ID PERCENTAGE% "
            "complete`, `... completed`, `... failed: ERROR`):",
            [f"+{diffs.cut(diffs.visible(line))}" for line in strange[:8]],
            name,
        )
    strangers = sorted({EVENT.match(line).group(1) for line in tail if EVENT.match(line)} - set(ids))
    if ids and strangers:
        trial.fail(
            f"{name} printed events of ids it never printed as created "
            f"({', '.join(strangers[:3])}): the event lines give each job's own job.id.",
            script=name,
        )
    reported = any(run.progress.get(job_id) for job_id in ids)
    printed_any = any(is_progress(line) for line in tail)
    wrong, unjudged = [], 0
    for job_id, (phone, _message) in zip(ids, data, strict=False):
        printed = events_of(tail, job_id)
        job = run.jobs.get(job_id)
        outcome = seen_outcome(job_id, job)
        if outcome is None:
            unjudged += 1
            continue
        if reported:  # what the job's function reported, as Redis ran it
            progress = [
                f"Notification job {job_id} {value}% complete" for value in run.progress.get(job_id, [])
            ]
        else:  # nothing the grader can read: the creator's own word for it
            progress = [line for line in printed if is_progress(line)]
        faithful = progress + [outcome]
        if printed != faithful:
            wrong.append((job_id, phone, faithful, printed))
    if unjudged:
        trial.skip(
            f"{unjudged} of its jobs never ended within the grader's wait: their function did not return "
            "(7_job_processor.py's task says more)"
        )
    if wrong:
        details = []
        for job_id, phone, want, printed in wrong[:4]:
            details.append(f"job {job_id} ({phone}):")
            details.extend(f"  {line}" for line in diffs.unified(want, printed, "expected", name)[2:])
        if len(wrong) > 4:
            details.append(f"… and {len(wrong) - 4} more jobs")
        hint = ""
        if reported and not printed_any:
            hint = " It printed no progress line at all: does it listen to the jobs' progress?"
        elif reported:
            hint = " (The progress is what each job's function reported, as Redis ran it.)"
        trial.fail(
            f"{name}'s lines for {len(wrong)} of its jobs differ from what happened to them.{hint}",
            details,
            name,
        )
    judge_creator_end(trial, run, name)


# Task 9


@task(9, "7_job_processor.py: two at a time, blacklist", ["7_job_processor.py"])
def task_9(trial):
    run = run_processor(
        trial, "7_job_creator.py", "7_job_processor.py", TASK8_QUEUE, expected.TASK8_DATA, workers=2
    )
    if run is None:
        return no_shape(trial, "7_job_creator.py", "7_job_processor.py", TASK8_QUEUE)
    trial.show(run.processor, "[processor] ")
    trial.show(run.creator, "[creator] ")
    judge_processor_9(trial, run)


def judge_processor_9(trial, run):
    name = "7_job_processor.py"
    processor_end(trial, run)
    jobs = on_queue(run.jobs, TASK8_QUEUE)
    data = expected.TASK8_DATA
    want = [
        expected.sending(phone, message)
        for job, (phone, message) in zip(jobs, data, strict=False)
        if phone not in expected.BLACKLISTED and job.final  # a job it never took shows in no line
    ]
    processor_lines(trial, run.processor, want)
    wrong_outcome, wrong_message = [], []
    for job, (phone, _message) in zip(jobs, data, strict=False):
        blacklisted = phone in expected.BLACKLISTED
        message = f"Phone number {phone} is blacklisted"
        if job.status == "failed":
            if not blacklisted:
                wrong_outcome.append(f"job {job.id} ({phone}) failed: {job.error}")
            elif job.error != message:
                wrong_message.append(f"job {job.id}: {job.error!r}, expected {message!r}")
        elif job.status == "finished" and blacklisted:
            wrong_outcome.append(f"job {job.id} ({phone}, blacklisted) completed")
    if wrong_message:
        trial.fail(
            f"{name} fails the blacklisted jobs with another message than the exercise's:",
            wrong_message,
            name,
        )
    if wrong_outcome:
        trial.fail(
            f"{name} should fail exactly the jobs of the blacklisted numbers "
            f"({', '.join(expected.BLACKLISTED)}):",
            wrong_outcome,
            name,
        )
    progress_problems(trial, name, run, jobs, data)
    unfinished_problem(trial, name, jobs, run, TASK8_QUEUE)
    if run.workers.most.get(TASK8_QUEUE) == 1:
        trial.lenient(
            f"one RQ worker at a time served {TASK8_QUEUE}: the exercise processes two jobs at a time "
            "(WorkerPool(..., num_workers=2), or two workers).",
            script=name,
        )
    trial.redis_hint(run.processor)


def progress_problems(trial, name, run, jobs, data):
    """The progress the processor reported, as Redis ran its writes: 0 (of 100), then 50
    unless the number is blacklisted."""
    ended = [(job, phone) for job, (phone, _message) in zip(jobs, data, strict=False) if job.final]
    if not ended:
        return
    if not any(run.progress.get(job.id) for job, _phone in ended):
        trial.fail(
            f"{name} reported no progress the grader could see: the exercise's processor reports progress 0, "
            "then 50 (job.meta['progress'] = 0; job.save_meta(), or an event the creator listens to).",
            script=name,
        )
        return
    wrong = []
    for job, phone in ended:
        values = [str(value) for value in run.progress.get(job.id, [])]
        want = ["0"] if phone in expected.BLACKLISTED else ["0", "50"]
        if values != want:
            wrong.append(f"job {job.id} ({phone}): {', '.join(values) or 'none'}; expected {', '.join(want)}")
    if wrong:
        trial.fail(
            f"{name} reports other progress than the exercise's (0 of 100, then 50 unless blacklisted):",
            wrong,
            name,
        )


# Task 10


CHECK_FUNCTION = """
import importlib, json, os, sys
sys.path.insert(0, os.getcwd())
from redis import Redis
from rq import Queue
module = importlib.import_module("8_job")
function = getattr(module, "create_push_notifications_jobs", None)
if function is None:
    print(json.dumps({"missing": [name for name in dir(module) if "job" in name.lower()]}))
    sys.exit(0)
queue = Queue("push_notification_code_3", connection=Redis.from_url(os.environ["REDIS_URL"]))
try:
    function("not a list", queue)
except Exception as error:
    print(json.dumps({"raised": type(error).__name__, "message": str(error)}))
else:
    print(json.dumps({"returned": True}))
"""


def check_function(trial):
    """create_push_notifications_jobs(not a list, queue) raises `Jobs is not an array`, creating nothing."""
    trial.command("python -c 'create_push_notifications_jobs(\"not a list\", queue)'   # 8_job imported")
    label = "8_job.py (imported)"
    done = trial.run(label, timeout=15, label=label, argv=[sys.executable, "-c", CHECK_FUNCTION])
    if done.timed_out:
        trial.fail(
            "importing 8_job.py and calling create_push_notifications_jobs did not return within 15s: is its "
            'main code under `if __name__ == "__main__":`?',
            script=label,
        )
        return
    try:
        answer = json.loads(done.lines()[-1])
    except (IndexError, ValueError):
        crashed = done.err_text.strip().splitlines()[-1:] or ["?"]
        trial.fail(f"importing 8_job.py failed: {crashed[0]}", script=label)
        return
    if "missing" in answer:
        close = ", ".join(answer["missing"]) or "none"
        trial.fail(
            f"8_job.py has no create_push_notifications_jobs(jobs, queue) (its names with 'job': {close})."
        )
    elif "returned" in answer:
        trial.fail(
            'create_push_notifications_jobs("not a list", queue) returned: it should raise '
            "`Jobs is not an array`."
        )
    elif answer.get("message") != "Jobs is not an array":
        trial.transcript.append(f"{answer['raised']}: {answer['message']}")
        trial.fail(
            f'create_push_notifications_jobs("not a list", queue) raised {answer["raised"]}: '
            f"{answer['message']!r}; the exercise's message is exactly 'Jobs is not an array'."
        )
    else:
        trial.transcript.append(f"{answer['raised']}: {answer['message']}")
    made = on_queue(seen_jobs(trial.client), TASK10_QUEUE)
    if made:
        trial.fail(
            f'create_push_notifications_jobs("not a list", queue) created {len(made)} jobs before refusing.'
        )
    trial.client.flushdb()


def cannot_import(job):
    kind = evidence.error_type(job.traceback)
    return (
        job.status == "failed"
        and kind in ("ModuleNotFoundError", "ImportError", "AttributeError")
        and ("import_attribute" in job.traceback or "No module named" in job.traceback)
    )


@task(10, "8_job.py: create_push_notifications_jobs (a stock `rq worker` runs its job)", ["8_job.py"])
def task_10(trial):
    name = "8_job.py"
    check_function(trial)
    trial.command("python 8_job.py   # terminal 1")
    creator = trial.start(name)
    try:
        judge_8_job(trial, creator)
    finally:
        if creator.running():
            creator.stop()
        trial.show(creator, "[8_job] ")


def judge_8_job(trial, creator):
    name = "8_job.py"
    if not creator.wait_until(lambda: creator.complete_lines(), WAIT):
        if not trial.ended_badly(creator):
            trial.fail(
                f"waited {WAIT}s for {name} to print `Notification job created: JOB_ID`; it printed nothing.",
                script=name,
            )
        return
    ids = created_ids(creator.lines(), 1)
    jobs = on_queue(seen_jobs(trial.client), TASK10_QUEUE)
    if not ids:
        trial.fail(
            f"{name}'s first line should be `Notification job created: JOB_ID`:",
            diffs.unified([expected.created("JOB_ID")], creator.lines()[:1], "expected", name),
            name,
        )
    if not jobs:
        job_data_problems(trial, name, [], [expected.TASK10_DATA], TASK10_QUEUE, seen_jobs(trial.client))
        return
    job = jobs[0]
    job_ids_problems(trial, name, ids, {each.id: each for each in jobs}, TASK10_QUEUE, 1)
    job_data_problems(trial, name, jobs[:1], [expected.TASK10_DATA], TASK10_QUEUE, {})
    serializer = "pickle" if job.serializer == PICKLE else "json"
    trial.command(
        f"rq worker --burst --serializer {serializer} --worker-class rq.worker.SimpleWorker "
        f"push_notification_code_3   # terminal 2{PARTNER}"
    )
    worker = trial.run(
        f"rq worker{PARTNER}",
        timeout=60,
        argv=rq_worker(trial.redis_url, TASK10_QUEUE, serializer, burst=True),
    )
    if worker.timed_out or worker.code != 0:
        trial.note(
            f"the grader's rq worker ended {worker.code}: " + " / ".join(diffs.tail(worker.err_text, 3))
        )
    job = seen_jobs(trial.client).get(job.id, job)
    if cannot_import(job):
        trial.fail(
            f"the job {name} makes names the function {job.function!r}, which an RQ worker started in the "
            f"port's directory cannot import: {job.error}",
            script=name,
        )
        return
    job_id = ids[0] if ids else job.id
    creator.wait_until(lambda: outcomes_printed(creator.complete_lines(), 1, with_ids=True), WAIT)
    printed = creator.lines()
    outcome = seen_outcome(job_id, job)
    events = [line for line in printed[1:] if not is_progress(line)]
    if outcome is None:
        outcome = events[-1] if events else f"Notification job {job_id} completed"
    want = [expected.created(job_id)] + [line for line in printed[1:] if is_progress(line)] + [outcome]
    if printed != want:
        trial.fail(
            f"{name}'s stdout differs from what happened to its job:",
            diffs.unified(want, printed, "expected", name),
            name,
        )
    if creator.running():
        if creator.wait(GRACE) is None:
            trial.lenient(
                f"{name} kept running after it printed its job's outcome: stopped. The spec's 8_job.py "
                "exits 0 once its job has completed or failed.",
                script=name,
            )
    else:
        trial.ended_badly(creator)
    trial.redis_hint(creator)


# Task 11


@task(11, "tests/test_8_job.py: the job creation tests", ["tests/test_8_job.py"], ["8_job.py"])
def task_11(trial):
    name = test_file(trial.port_dir)
    try:
        import pytest_cov  # noqa: F401

        no_cov = ["--no-cov"]
    except ImportError:
        no_cov = []
    try:
        import pytest  # noqa: F401
    except ImportError:
        trial.skip("pytest is not installed where the grader runs (pip install -e '.[test]')")
        return
    trial.command(f"pytest {name}")
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *no_cov, name]
    done = trial.run("pytest", timeout=TESTS_TIMEOUT, argv=argv)
    lines = [line for line in done.lines() if line.strip()]
    trial.transcript.extend(diffs.cut(line) for line in lines[-1:])
    if done.timed_out:
        trial.fail(
            f"the tests in {name} were still running after {TESTS_TIMEOUT}s: stopped.",
            diffs.tail(done.out_bytes.decode(errors="replace")),
        )
    elif done.code == 5:
        trial.fail(
            f"no tests found in {name}: pytest runs the functions named test_* of files named test_*.py."
        )
    elif done.code != 0:
        trial.fail(
            f"the tests in {name} fail (pytest exited {done.code}):",
            diffs.tail(done.out_bytes.decode(errors="replace"), 15),
        )
