"""`bench.py scale`: what one Redis carries as jobs pile up and workers are added.

  drain     N jobs (1,000,000 by default) of the peer workload (2% failing) queued before
            the workers start (created by qs.create_jobs in batches of 10,000), then drained
            by `7_job_processor.py --workers W`, for each W (2, 4, 8): jobs/s, Redis's CPU
            per job, the workers' CPU per job and their RSS at start and at end; Redis's
            memory per job queued (after the filling) and per job finished and kept (after
            the drain: a finished job is kept 500 s, a failed one a day)
  memory    M jobs (100,000) queued by each system's creator, then drained by its processor:
            Redis's memory per job queued and per job finished and kept, ours against
            BullMQ's with the same retention (removeOnComplete {age: 500}, removeOnFail
            {age: 86400}), the event stream (bounded, about 100,000 entries for both) apart
  creator   a creator of C jobs (100,000) creating them and hearing every outcome, with the
            processor running: its peak RSS (ours_creator.py: qs.create_jobs and
            qs.EventFollower; bullmq_creator.js: addBulk and QueueEvents)

Everything runs on the bench's own Redis, flushed between runs. On a machine of K cores,
more workers than K - 1 (Redis takes a core's share) add processes, not jobs per second.
"""

import itertools
import os
import statistics
import sys
import time

from measures import children, cpu_seconds, fresh, rss_kb, start, stop, wait_for
from original import SYSTEMS, installed, rq_ended, run_creator
from ours_creator import PROCESS, QUEUE, workload

from queuing_system.jobs import create_jobs, job_queue

FILL_BATCH = 10_000  # jobs created per create_jobs call as the queue is filled
EVENTS = {"ours": f"queuing:events:{QUEUE}", "bullmq": f"bull:{QUEUE}:events"}


def emptied(client):
    """Redis flushed in the background (a million jobs take longer to free than a client
    waits for a reply), once it has freed them."""
    client.flushall(asynchronous=True)
    wait_for(lambda: client.info("memory")["lazyfree_pending_objects"] == 0, timeout=600, interval=0.2)


def used_memory(client):
    return client.info("memory")["used_memory"]


def events_memory(client, system):
    return client.memory_usage(EVENTS[system], samples=0) or 0


def fill(client, count):
    """`count` jobs of the peer workload on our queue, FILL_BATCH at a time."""
    queue = job_queue(QUEUE, client)
    jobs = workload(count)
    for _ in range(0, count, FILL_BATCH):
        create_jobs(queue, PROCESS, itertools.islice(jobs, FILL_BATCH))


def drain_with(client, url, count, workers):
    """(seconds, Redis CPU s, workers' CPU s, workers' RSS KB at start and end) of
    7_job_processor.py --workers `workers` draining the `count` jobs queued."""
    processor = start([sys.executable, "7_job_processor.py", "--workers", str(workers)], url)
    try:
        wait_for(lambda: len(children(processor.pid)) == workers, timeout=60)
        pids = [processor.pid, *children(processor.pid)]
        server = client.info()["process_id"]
        rss_start = rss_kb(processor.pid)
        before = (time.perf_counter(), cpu_seconds(server), sum(map(cpu_seconds, pids)))
        wait_for(lambda: rq_ended(client) >= count, timeout=3600, interval=0.5)
        after = (time.perf_counter(), cpu_seconds(server), sum(map(cpu_seconds, pids)))
        rss_end = rss_kb(processor.pid)
    finally:
        stop(processor)
    seconds, redis_cpu, workers_cpu = (end - begin for begin, end in zip(before, after, strict=True))
    return seconds, redis_cpu, workers_cpu, rss_start, rss_end


def bench_drain(client, url, count, worker_counts):
    print(f"  scale     drain: {count:,} jobs queued, then drained (2% failing)", flush=True)
    for workers in worker_counts:
        emptied(client)
        empty = used_memory(client)
        started = time.perf_counter()
        fill(client, count)
        filled = time.perf_counter() - started
        queued = used_memory(client) - empty
        seconds, redis_cpu, workers_cpu, rss_start, rss_end = drain_with(client, url, count, workers)
        kept = used_memory(client) - empty - events_memory(client, "ours")
        emptied(client)
        print(
            f"  scale     {workers} workers: {count / seconds:7,.0f} jobs/s; CPU per job: redis"
            f" {1e6 * redis_cpu / count:4.0f} us, workers {1e6 * workers_cpu / count:4.0f} us;"
            f" workers' RSS {rss_start / 1024:.0f} -> {rss_end / 1024:.0f} MB; redis per job: queued"
            f" {queued / count:,.0f} B, finished and kept {kept / count:,.0f} B; filled at"
            f" {count / filled:,.0f} jobs/s",
            flush=True,
        )


def memory_of(system, client, url, count):
    """Redis's bytes per job of `system`: queued (by its creator), then finished and kept
    (drained by its processor), the event stream apart."""
    fresh(client)
    empty = used_memory(client)
    run_creator(system, client, url, count, create_only=True)
    queued = used_memory(client) - empty - events_memory(client, system.name)
    processor = start(system.processor, url, system.cwd)
    try:
        wait_for(lambda: system.ended(client) >= count, timeout=3600, interval=0.5)
    finally:
        stop(processor)
    kept = used_memory(client) - empty - events_memory(client, system.name)
    return queued / count, kept / count


def bench_memory(client, url, count, systems):
    figures = {system.name: memory_of(system, client, url, count) for system in systems}
    for name, (queued, kept) in figures.items():
        line = (
            f"  scale     memory {name:<7} {count:,} jobs: per job queued {queued:,.0f} B,"
            f" finished and kept {kept:,.0f} B"
        )
        if name != "ours" and "ours" in figures:
            ours = figures["ours"]
            line += f"  -> ours {ours[0] / queued:.2f}x, {ours[1] / kept:.2f}x"
        print(line, flush=True)


def creator_rss(system, client, url, count):
    """The peak RSS (MB) of `system`'s creator creating `count` jobs and hearing every
    outcome, its processor running."""
    fresh(client)
    processor = start(system.processor, url, system.cwd)
    try:
        wait_for(lambda: system.waiting(client), timeout=60)
        report, _said = run_creator(system, client, url, count)
    finally:
        stop(processor)
    return report["maxrss_kb"] / 1024, report["outcomes"]


def bench_creator(client, url, count, systems, repeat=1):
    for system in systems:
        runs = [creator_rss(system, client, url, count) for _ in range(repeat)]
        peak = statistics.median(rss for rss, _heard in runs)
        heard = min(heard for _rss, heard in runs)
        print(
            f"  scale     creator {system.name:<7} {count:,} jobs created and followed: peak RSS"
            f" {peak:,.0f} MB, {1024 * 1024 * peak / count:,.0f} B a job; heard {heard:,}",
            flush=True,
        )


def bench_scale(client, url, count, worker_counts, memory_jobs, creator_jobs, parts):
    systems = [SYSTEMS["ours"]]
    if {"memory", "creator"} & set(parts) and installed():
        systems.append(SYSTEMS["bullmq"])
    print(f"  scale     {os.cpu_count()} cores", flush=True)
    if "drain" in parts:
        bench_drain(client, url, count, worker_counts)
    if "memory" in parts:
        bench_memory(client, url, memory_jobs, systems)
    if "creator" in parts:
        bench_creator(client, url, creator_jobs, systems)
