"""Our benchmarks' measures, run by bench.py (its docstring says what each one does): our
job pipeline and stock app against plain RQ and Flask or another checkout, and the stock
app's HTTP runs that original.py takes too for the peer figures."""

import contextlib
import io
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from rq import Queue, SimpleWorker, Worker  # noqa: E402
from rq.registry import FailedJobRegistry, FinishedJobRegistry  # noqa: E402
from rq.serializers import JSONSerializer  # noqa: E402

from queuing_system.connection import make_client  # noqa: E402
from queuing_system.follower import EventFollower  # noqa: E402
from queuing_system.grader.harness import port_open, script_env, wait_for  # noqa: E402
from queuing_system.grader.redis_server import free_port  # noqa: E402
from queuing_system.jobs import create_jobs, job_queue  # noqa: E402
from queuing_system.worker.core import Worker as OurWorker  # noqa: E402
from queuing_system.worker.pool import quiet_rq_logging  # noqa: E402

QUEUE = "push_notification_code_2"
PROCESS = "7_job_processor.process"


def notifications(count):
    """Jobs that all complete (no blacklisted number): the work is the queue's, not the job's."""
    return [
        {"phoneNumber": f"4150{n:06d}", "message": f"This is the code {n} to verify"} for n in range(count)
    ]


def summary(values, unit):
    return f"{statistics.median(values):,.0f} {unit} (min {min(values):,.0f}, max {max(values):,.0f})"


def report(name, ours, baseline, unit, label="baseline", **more_baselines):
    """Ours, then each baseline with the ratio of the medians."""
    print(f"  {name:<9} ours     {summary(ours, unit)}")
    for each, values in {label: baseline, **more_baselines}.items():
        ratio = statistics.median(ours) / statistics.median(values)
        print(f"  {'':<9} {each:<8} {summary(values, unit)}  -> ours {ratio:.2f}x", flush=True)


def fresh(client):
    client.flushall()


def bench_enqueue(client, n, repeat):
    job8 = __import__("importlib").import_module("8_job")
    ours, baseline = [], []
    for _ in range(repeat):
        fresh(client)
        data = notifications(n)
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            job8.create_push_notifications_jobs(data, job_queue(job8.QUEUE, client))
        ours.append(n / (time.perf_counter() - started))
        for reporter in job8.reporters:
            reporter.stop()
        job8.reporters.clear()

        fresh(client)
        plain = Queue("plain", connection=client)
        started = time.perf_counter()
        for item in data:
            plain.enqueue(PROCESS, item)
        baseline.append(n / (time.perf_counter() - started))
    report("enqueue", ours, baseline, "jobs/s")


def start(command, url, root=ROOT, **env):
    """`command` run from `root` (so `python 9_stock.py` imports that checkout's package)."""
    return subprocess.Popen(
        command, cwd=root, env=script_env(url, **env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(each) for each in found.split()]


@dataclass
class Run:
    """One end-to-end run: seconds until every job was saved and until every outcome was
    heard, and CPU microseconds per job of the workers, Redis and the creator."""

    created: float
    heard: float
    cpu: tuple

    def cpu_line(self):
        workers, server, creator = self.cpu
        return f"CPU per job: workers {workers:.0f} us, redis {server:.0f} us, creator {creator:.0f} us"


def ours_end_to_end(client, url, data, root=ROOT):
    """`data`'s jobs created, processed by `root`'s 7_job_processor.py (started here and
    stopped after), every outcome heard: a Run."""
    processor = start([sys.executable, "7_job_processor.py"], url, root)
    try:
        wait_for(lambda: len(Worker.all(connection=client)) == 2, timeout=30)
        workers, server = children(processor.pid), client.info()["process_id"]
        before = [sum(map(cpu_seconds, workers)), cpu_seconds(server), time.process_time()]
        creator = make_client(url, decode_responses=False)  # as the job scripts make theirs
        started = time.perf_counter()
        follower = EventFollower(creator, QUEUE)
        jobs = create_jobs(job_queue(QUEUE, creator), PROCESS, data)
        created = time.perf_counter() - started
        outcomes = sum(1 for event in follower.follow(job.id for job in jobs) if event.kind != "progress")
        heard = time.perf_counter() - started
        after = [sum(map(cpu_seconds, workers)), cpu_seconds(server), time.process_time()]
        creator.close()
    finally:
        stop(processor)
    assert outcomes == len(data), f"heard {outcomes} outcomes of {len(data)}"
    return Run(
        created,
        heard,
        tuple(1e6 * (end - begin) / len(data) for begin, end in zip(before, after, strict=True)),
    )


def pool_end_to_end(client, url, n, *options):
    """Jobs/s for n plain RQ jobs (pickle) through `rq worker-pool -n 2 [options]`."""
    fresh(client)
    queue = Queue(QUEUE, connection=client)
    pool = start(
        [sys.executable, "-m", "rq.cli", "worker-pool", "-n", "2", *options, "--url", url, QUEUE], url
    )
    try:
        wait_for(lambda: len(Worker.all(connection=client)) == 2, timeout=30)
        started = time.perf_counter()
        for item in notifications(n):
            queue.enqueue(PROCESS, item)
        wait_for(lambda: ended(queue) == n, timeout=3600, interval=0.05)
        return n / (time.perf_counter() - started)
    finally:
        stop(pool)


def ended(queue):
    """How many of `queue`'s jobs have finished or failed."""
    return FinishedJobRegistry(queue=queue).count + FailedJobRegistry(queue=queue).count


def bench_e2e(client, url, n, repeat, against=None):
    """Ours vs RQ's defaults (a fork per job), and vs its SimpleWorker pool for reference;
    and vs the processor of another checkout (`against`), if given."""
    ours, defaults, simple, other = [], [], [], []
    for _ in range(repeat):
        fresh(client)
        run = ours_end_to_end(client, url, notifications(n))
        print(f"  e2e       {n / run.heard:,.0f} jobs/s; {run.cpu_line()}", flush=True)
        ours.append(n / run.heard)
        defaults.append(pool_end_to_end(client, url, n))
        simple.append(pool_end_to_end(client, url, n, "-w", "rq.worker.SimpleWorker"))
        if against:
            fresh(client)
            run = ours_end_to_end(client, url, notifications(n), against)
            print(f"  e2e       {n / run.heard:,.0f} jobs/s ({against}); {run.cpu_line()}", flush=True)
            other.append(n / run.heard)
    report("e2e", ours, defaults, "jobs/s", simple=simple, **({"against": other} if against else {}))


class CountingConnection(redis.Connection):
    """Counts round trips: one send per command, or per pipeline."""

    sends = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.sends += 1
        return super().send_packed_command(command, check_health)


def one_worker(client, url, n, worker_class):
    """(jobs/s, CPU ms, round trips, commands) per job for one worker emptying n queued jobs."""
    fresh(client)
    create_jobs(job_queue(QUEUE, client), PROCESS, notifications(n))
    client.config_resetstat()
    connection = redis.Redis(
        connection_pool=redis.ConnectionPool.from_url(url, connection_class=CountingConnection)
    )
    worker = worker_class([job_queue(QUEUE, connection)], connection=connection, serializer=JSONSerializer)
    CountingConnection.sends = 0
    started, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        worker.work(burst=True, logging_level="WARNING")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    commands = sum(stat["calls"] for stat in client.info("commandstats").values())
    return n / elapsed, 1e3 * cpu / n, CountingConnection.sends / n, commands / n


def bench_worker(client, url, n, repeat):
    """Our worker against RQ's SimpleWorker, each alone on the same jobs, in this process."""
    quiet_rq_logging()
    runs = {"ours": [], "baseline": []}
    for _ in range(repeat):
        runs["ours"].append(one_worker(client, url, n, OurWorker))
        runs["baseline"].append(one_worker(client, url, n, SimpleWorker))
    for name, figures in runs.items():
        rate, cpu, trips, commands = (statistics.median(column) for column in zip(*figures, strict=True))
        print(
            f"  worker    {name:<8} {rate:6,.0f} jobs/s  {cpu:.2f} ms CPU, {trips:.1f} round trips, "
            f"{commands:.1f} Redis commands per job",
            flush=True,
        )
    report("worker", [run[0] for run in runs["ours"]], [run[0] for run in runs["baseline"]], "jobs/s")


WRK_SCRIPT = """
confirmed = 0  -- a global: thread:get() reads each thread's globals
local threads = {}
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body)
  if string.find(body, "confirmed", 1, true) then confirmed = confirmed + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("confirmed") end
  io.write(string.format("confirmed %d\\n", total))
end
"""


def wrk(url_path, seconds, script=None):
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url_path]
    if script:
        command[1:1] = ["-s", script]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    confirmed = re.search(r"confirmed (\d+)", out)
    return rps, p99_ms, int(errors.group(1)) if errors else 0, int(confirmed.group(1)) if confirmed else None


HTTP_PATHS = ("/list_products", "/list_products/1", "/reserve_product/2")


def serve_stock(url, command, port, root=ROOT):
    app = start(command, url, root, PORT=str(port), FLASK_RUN_PORT=str(port))
    wait_for(lambda: port_open(port), timeout=30)
    return app


def http_run(client, url, path, command, root, seconds, script):
    """One wrk run of `path` on a stock app started with `command` from `root`: (req/s,
    p99 ms, non-2xx, reservations confirmed or None, stock taken), its line printed."""
    fresh(client)
    client.set("item.2", 10**9)
    port = free_port()
    app = serve_stock(url, command, port, root)
    try:
        rps, p99, errors, confirmed = wrk(f"http://127.0.0.1:{port}{path}", seconds, script)
    finally:
        stop(app)
    return rps, p99, errors, confirmed, 10**9 - int(client.get("item.2"))


def http_line(path, name, figures):
    """A run's line. wrk stops reading at its deadline: up to one request per connection
    (32) was confirmed by the app but never read; more confirmations than stock taken is
    overselling, said with `!!`."""
    rps, p99, errors, confirmed, taken = figures
    line = f"  {path:<20} {name:<8} {rps:8,.0f} req/s  p99 {p99:6.2f} ms  non-2xx {errors}"
    if confirmed is not None:
        line += f", confirmed {confirmed:,} / stock taken {taken:,}"
        if confirmed > taken:
            line += f"  !! oversold {confirmed - taken:,}"
        else:
            line += f" (unread at cut-off {taken - confirmed})"
    print(line, flush=True)


def bench_http(client, url, seconds, repeat, servers, paths=HTTP_PATHS):
    """Each path under wrk on each of `servers` ({name: (command, root)}), the first being
    ours, taking turns (the machine's load drifts): req/s and p99, each run printed, then
    the ratios of the medians. Returns {path: {name: [run figures]}}."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    results = {}
    for path in paths:
        figures = results[path] = {name: [] for name in servers}
        for _ in range(repeat):
            for name, (command, root) in servers.items():
                run = http_run(
                    client, url, path, command, root, seconds, script.name if "reserve" in path else None
                )
                http_line(path, name, run)
                figures[name].append(run)
        names = list(figures)
        rates = [[run[0] for run in figures[name]] for name in names]
        report(path, rates[0], rates[1], "req/s", names[1], **dict(zip(names[2:], rates[2:], strict=True)))
        p99s = ", ".join(
            f"{name} {statistics.median(run[1] for run in figures[name]):.1f} ms" for name in names
        )
        print(f"  {'':<9} p99 (median): {p99s}", flush=True)
    os.unlink(script.name)
    return results


def stock_servers(against=None):
    """Our stock app as the README runs it, and `flask run` as the baseline (and another
    checkout's, if given)."""
    servers = {
        "ours": ([sys.executable, "9_stock.py"], ROOT),
        "baseline": ([sys.executable, "-m", "flask", "--app", "9_stock", "run"], ROOT),
    }
    if against:
        servers["against"] = ([sys.executable, "9_stock.py"], against)
    return servers


def rss_kb(pid):
    total = 0
    for each in [pid, *children(pid)]:
        with contextlib.suppress(FileNotFoundError):
            status = Path(f"/proc/{each}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return total


def bench_growth(client, url, sizes):
    fresh(client)
    processor = start([sys.executable, "7_job_processor.py"], url)
    try:
        wait_for(lambda: len(Worker.all(connection=client)) == 2, timeout=30)
        memory_start = client.info("memory")["used_memory"]
        rss_start = None
        for n in sizes:
            started = time.perf_counter()
            follower = EventFollower(client, QUEUE)
            jobs = create_jobs(job_queue(QUEUE, client), PROCESS, notifications(n))
            heard = sum(1 for e in follower.follow(job.id for job in jobs) if e.kind != "progress")
            elapsed = time.perf_counter() - started
            rss = rss_kb(processor.pid)
            rss_start = rss_start or rss
            print(
                f"  N={n:<7} {elapsed:7.2f} s  {n / elapsed:7,.0f} jobs/s  heard {heard}  "
                f"redis {client.info('memory')['used_memory'] / 2**20:7.1f} MiB "
                f"(start {memory_start / 2**20:.1f})  stream {client.xlen('queuing:events:' + QUEUE):,}  "
                f"processor RSS {rss / 1024:.1f} MiB",
                flush=True,
            )
        print(
            f"  processor RSS grew {100 * (rss - rss_start) / rss_start:+.1f}%"
            " from the first size to the last"
        )
    finally:
        stop(processor)


SPEC_PHONES = [  # the spec's eleven jobs: two of eleven are blacklisted and fail
    "4153518780",
    "4153518781",
    "4153518743",
    "4153538781",
    "4153118782",
    "4153718781",
    "4159518782",
    "4158718781",
    "4153818782",
    "4154318781",
    "4151218782",
]


def spec_mix(count, start=0):
    return [
        {"phoneNumber": SPEC_PHONES[n % 11], "message": f"This is the code {n} to verify"}
        for n in range(start, start + count)
    ]


def bytes_kept(client, url, data, result_ttl, failure_ttl):
    """Redis memory per job once `data`'s jobs have ended, with the given retention."""
    fresh(client)
    processor = start([sys.executable, "7_job_processor.py"], url)
    try:
        wait_for(lambda: len(Worker.all(connection=client)) == 2, timeout=30)
        before = client.info("memory")["used_memory"]
        follower = EventFollower(client, QUEUE)
        jobs = create_jobs(
            job_queue(QUEUE, client), PROCESS, data, result_ttl=result_ttl, failure_ttl=failure_ttl
        )
        for _event in follower.follow(job.id for job in jobs):
            pass
        client.xtrim("queuing:events:" + QUEUE, maxlen=0)  # the stream is bounded on its own
        return (client.info("memory")["used_memory"] - before) / len(data)
    finally:
        stop(processor)


def bench_memory(client, url, total, chunk, result_ttl, failure_ttl):
    completing = [d for d in spec_mix(11) if d["phoneNumber"] not in SPEC_PHONES[:2]] * 200
    failing = spec_mix(2) * 1000
    finished_bytes = bytes_kept(client, url, completing, 500, 500)
    failed_bytes = bytes_kept(client, url, failing, 500, 86_400)
    print(
        f"  a finished job keeps {finished_bytes:,.0f} B for 500 s; a failed one "
        f"{failed_bytes:,.0f} B for a day (the bound, at R jobs/s with 2 in 11 failing: "
        f"R x ({finished_bytes * 9 / 11:,.0f} B x 500 + {failed_bytes * 2 / 11:,.0f} B x 86,400))"
    )
    fresh(client)
    processor = start([sys.executable, "7_job_processor.py"], url)
    try:
        wait_for(lambda: len(Worker.all(connection=client)) == 2, timeout=30)
        queue = job_queue(QUEUE, client)
        start_memory = client.info("memory")["used_memory"]
        started, peak, samples = time.perf_counter(), 0, []
        print(f"  {total:,} jobs, finished kept {result_ttl} s, failed {failure_ttl} s:", flush=True)
        for done in range(0, total, chunk):
            follower = EventFollower(client, QUEUE)
            jobs = create_jobs(
                queue, PROCESS, spec_mix(chunk, done), result_ttl=result_ttl, failure_ttl=failure_ttl
            )
            for _event in follower.follow(job.id for job in jobs):
                pass
            used = client.info("memory")["used_memory"] - start_memory
            peak = max(peak, used)
            samples.append(used)
            print(
                f"    {done + chunk:>7,} jobs at {time.perf_counter() - started:6.1f} s: "
                f"redis +{used / 2**20:6.1f} MiB, {client.dbsize():,} keys",
                flush=True,
            )
        half = samples[len(samples) // 2 :]
        print(
            f"  second half of the run: +{min(half) / 2**20:.1f} to +{max(half) / 2**20:.1f} MiB "
            f"(peak +{peak / 2**20:.1f} MiB): bounded if it stays flat as jobs go on"
        )
    finally:
        stop(processor)
