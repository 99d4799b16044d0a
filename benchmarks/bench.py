#!/usr/bin/env python3
"""Benchmarks: our job pipeline and stock app against plain RQ / Flask, in the same run.

Starts its own Redis (the bundled server), runs each workload several times, and prints the
median with min–max and the ratio against a baseline measured in this same run:

  enqueue  create_push_notifications_jobs-style creation of N jobs (ids, events, JSON)
           vs a plain `queue.enqueue` loop
  e2e      N jobs through 7_job_processor.py (two workers, own process) until the creator
           has heard every outcome, vs `rq worker-pool -n 2` with RQ's defaults (and,
           for reference, the same pool of SimpleWorkers: no fork per job)
  worker   one worker of ours vs RQ's SimpleWorker on the same N queued jobs, in this
           process: jobs/s, CPU, round trips and Redis commands per job
  http     9_stock.py as the README runs it, under wrk -t2 -c32 -d10s, vs the same app on
           the Werkzeug development server (`flask run`)
  growth   end-to-end time, Redis memory and event-stream length at N = 1k, 10k, 100k,
           and the processor's RSS along the way
  peer     ours against Kue 0.11 (the original stack, with Express 4) and BullMQ 5 on
           Node, on the same Redis, taking turns round by round: end to end (N jobs, 2%
           failing, two at a time, every outcome heard and counted), workers', Redis's
           and the creator's CPU per job, creation alone, a failing job's cost against a
           succeeding one's, the stock app; medians, min-max and ratios ours/kue,
           ours/bullmq (see benchmarks/original.py and docs/benchmarks.md). --figures and
           --peers pick parts, --repeat the rounds. Keep -n at 5000 for ratios: Node's
           start-up and JIT warm-up weigh on fewer jobs (at -n 1000, ours measured 1.3x-1.9x
           ahead of both, where at 5000 it is behind)
  scale    1,000,000 jobs queued, drained by 2, 4 and 8 workers (jobs/s, Redis's and the
           workers' CPU per job, their RSS); Redis's memory per job queued and finished,
           ours against BullMQ's; a creator of 100,000 jobs' peak RSS (benchmarks/scale.py)
  redis    where Redis's time goes per job, ours against BullMQ on the peer workload, same
           run: INFO commandstats, and each Lua script's calls, time and Lua's share of it
           (benchmarks/redis_time.py)
  memory   Redis memory over 100k jobs with the spec's 2-in-11 failures: bytes a finished
           and a failed job keep, and memory bounded once retention (scaled down to
           seconds here, to see it within the run) lets jobs go
  failover a primary, 2 replicas and 3 Sentinels: the replication wait's cost (e2e with
           the replicas against without, same run), then --trials trials of each fault
           (SENTINEL FAILOVER, SIGKILL, SIGSTOP) for ours, BullMQ 5 and RQ's own worker
           side by side: jobs lost, ids twice, jobs run twice, seconds to resume
           (benchmarks/failover.py; not in the default run: an hour at 20 trials)

    python benchmarks/bench.py                  # everything (several minutes)
    python benchmarks/bench.py enqueue e2e -n 5000 --repeat 3
    python benchmarks/bench.py e2e http --against /tmp/before   # vs another checkout, same run
    python benchmarks/bench.py peer --repeat 3 --seconds 5      # vs Kue and BullMQ on Node
    python benchmarks/bench.py peer --figures e2e --repeat 2    # a quick look (~20 s)
    python benchmarks/bench.py failover --trials 20             # vs BullMQ and RQ (~1 h)
"""

import argparse
import os
from pathlib import Path

import measures  # first: it puts this checkout's package on sys.path
import original
import redis
import redis_time
import scale

from queuing_system.grader.redis_server import RedisServer


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    everything = ["enqueue", "e2e", "worker", "http", "growth", "memory", "peer", "redis", "scale"]
    parser.add_argument(
        "workloads", nargs="*", default=everything, help=f"of {' '.join(everything)}; all by default"
    )
    parser.add_argument("-n", type=int, default=5000, help="jobs per enqueue/e2e/peer run (default 5000)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each workload; peer: rounds, each system once a round"
    )
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration (http, peer's http)")
    parser.add_argument(
        "--figures",
        default=",".join(original.FIGURES),
        help=f"peer: which figures, of {','.join(original.FIGURES)} (default all)",
    )
    parser.add_argument(
        "--peers",
        default=",".join(original.PEERS),
        help=f"peer: which systems beside ours, of {','.join(original.PEERS)} (default both)",
    )
    parser.add_argument("--trials", type=int, default=20, help="failover: trials of each fault")
    parser.add_argument("--faults", default="failover,kill,stop", help="failover: which faults")
    parser.add_argument("--failover-peers", default="bullmq,rq", help="failover: beside ours, of bullmq,rq")
    parser.add_argument("--growth", default="1000,10000,100000")
    parser.add_argument("--memory-jobs", type=int, default=100_000, help="memory, scale: jobs")
    parser.add_argument("--scale-jobs", type=int, default=1_000_000, help="scale: jobs queued")
    parser.add_argument("--scale-workers", default="2,4,8", help="scale: the numbers of workers")
    parser.add_argument("--creator-jobs", type=int, default=100_000, help="scale: the creator's jobs")
    parser.add_argument(
        "--scale-parts", default="drain,memory,creator", help="scale: of drain,memory,creator (default all)"
    )
    parser.add_argument("--retention", default="5,10", help="memory: finished,failed seconds")
    parser.add_argument(
        "--against",
        type=Path,
        help="e2e, http: also run the processor and the stock app of this other checkout (a"
        " commit to compare with, e.g. `git worktree add /tmp/before HEAD~5`), reported as 'against'",
    )
    args = parser.parse_args()
    if "failover" in args.workloads:  # a set of servers of its own
        from benchmarks import failover, failover_peers  # noqa: PLC0415

        faults, peers = args.faults.split(","), [p for p in args.failover_peers.split(",") if p]
        if "bullmq" in peers and not original.installed():  # node and BullMQ's packages
            peers.remove("bullmq")
        failover.bench_failover(
            args.trials, faults, [failover_peers.PEERS[name] for name in peers], args.n, args.repeat
        )
        args.workloads = [each for each in args.workloads if each != "failover"]
        if not args.workloads:
            return
    figures, peers = args.figures.split(","), args.peers.split(",")
    for asked, known in ((figures, original.FIGURES), (peers, original.PEERS)):
        if not set(asked) <= set(known):
            parser.error(f"unknown: {', '.join(sorted(set(asked) - set(known)))} (known: {', '.join(known)})")
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        print(f"redis {client.info()['redis_version']} on {server.url}; {os.cpu_count()} cores", flush=True)
        if "enqueue" in args.workloads:
            measures.bench_enqueue(client, args.n, args.repeat)
        if "e2e" in args.workloads:
            measures.bench_e2e(client, server.url, args.n, args.repeat, args.against)
        if "worker" in args.workloads:
            measures.bench_worker(client, server.url, args.n, args.repeat)
        if "http" in args.workloads:
            measures.bench_http(
                client, server.url, args.seconds, args.repeat, measures.stock_servers(args.against)
            )
        if "growth" in args.workloads:
            measures.bench_growth(client, server.url, [int(size) for size in args.growth.split(",")])
        if "peer" in args.workloads:
            original.bench_peer(client, server.url, args.n, args.repeat, args.seconds, figures, peers)
        if "scale" in args.workloads:
            scale.bench_scale(
                client,
                server.url,
                args.scale_jobs,
                [int(workers) for workers in args.scale_workers.split(",")],
                args.memory_jobs,
                args.creator_jobs,
                args.scale_parts.split(","),
            )
        if "redis" in args.workloads:
            redis_time.bench_redis_time(client, server.url, min(args.n, 2000), args.repeat)
        if "memory" in args.workloads:
            finished_ttl, failed_ttl = (int(s) for s in args.retention.split(","))
            measures.bench_memory(client, server.url, args.memory_jobs, 5_000, finished_ttl, failed_ttl)


if __name__ == "__main__":
    main()
