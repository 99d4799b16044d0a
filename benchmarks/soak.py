#!/usr/bin/env python3
"""A soak: a steady stream of jobs under periodic CLIENT KILL, and the stock app under wrk,
for `--minutes` (default 10), on a Redis of its own. Not part of the test run.

    python benchmarks/soak.py                  # 10 minutes
    python benchmarks/soak.py --minutes 1      # a short one

What runs, all the while:
- 7_job_processor.py (two workers) and 9_stock.py (two server processes), as the README
  runs them;
- 7_job_creator.py, started again as soon as it ends: each run must end 0 with the spec's
  lines for its eleven jobs (every outcome heard);
- every --kill-every seconds, CLIENT KILL of every client connection but the soak's own;
- wrk -t1 -c16 on /reserve_product/2 (a stock too large to sell out) and, in turn, on
  /list_products/1 and /reserve_product/3 (sold out: refused reservations).

It prints, at the start (after a warm-up) and at the end: the RSS and open file
descriptors of each process, Redis's keys, used memory and clients; then how many creator
runs ended well, jobs created and ended, kills made, and wrk's requests. It exits 1 if a
creator run went wrong, a job was lost, or a process died.
"""

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from queuing_system.grader.expected import TASK8_DATA, creator_differences  # noqa: E402
from queuing_system.grader.harness import port_open, script_env, wait_for  # noqa: E402
from queuing_system.grader.redis_server import RedisServer, free_port  # noqa: E402

WARM_UP = 15  # seconds before the first figures
WRK_TURN = 30  # seconds of each wrk run


def start(name, url, output=None, **env):
    """`name` run as the README runs it; its stdout and stderr piped, or written to the
    files `output` (for a process that runs all along: a pipe nobody reads fills up)."""
    out, err = (subprocess.PIPE, subprocess.PIPE) if output is None else output
    return subprocess.Popen(
        [sys.executable, name],
        cwd=ROOT,
        env=script_env(url, **env),
        stdout=out,
        stderr=err,
        text=True,
        start_new_session=True,
    )


def output_files(directory, name):
    return tuple(open(directory / f"{name}.{kind}", "w") for kind in ("out", "err"))


def children(pid):
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(each) for each in found.split()]


def process_figures(name, pid):
    """{name[/child]: (RSS MB, open fds)} of a process and its children."""
    figures = {}
    for index, each in enumerate([pid, *children(pid)]):
        with contextlib.suppress(FileNotFoundError):
            rss = int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{each}/status").read_text()).group(1))
            fds = len(os.listdir(f"/proc/{each}/fd"))
            figures[name if index == 0 else f"{name}/{index}"] = (rss / 1024, fds)
    return figures


def redis_figures(client):
    memory = client.info("memory")
    return {
        "keys": client.dbsize(),
        "used_memory MB": memory["used_memory"] / 2**20,
        "clients": client.info("clients")["connected_clients"],
    }


def key_census(client):
    """{kind of key: count}, a key's kind its name with the ids taken out (rq:job:*...)."""
    kinds = {}
    for key in client.scan_iter(count=1000):
        kind = re.sub(rb"[0-9a-f-]{8,}|\d+", b"*", key).decode(errors="replace")
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items(), key=lambda item: -item[1]))


def print_minute(client, minute):
    """One line a minute, as it goes: Redis's keys and memory (what it holds is bounded by
    the retention of jobs, events and receipts, so the figures level off)."""
    figures = redis_figures(client)
    print(
        f"  minute {minute:3d}: keys {figures['keys']}, used_memory MB {figures['used_memory MB']:.1f}",
        flush=True,
    )


def snapshot(client, processes):
    figures = {}
    for name, process in processes.items():
        figures.update(process_figures(name, process.pid))
    return figures, redis_figures(client)


class Creators(threading.Thread):
    """7_job_creator.py again and again; each run's exit code and lines checked."""

    def __init__(self, url, stopping):
        super().__init__(daemon=True)
        self.url, self.stopping = url, stopping
        self.good, self.bad = 0, []

    def run(self):
        while not self.stopping.is_set():
            run = start("7_job_creator.py", self.url)
            try:
                out, err = run.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
                out, err = run.communicate()
                self.bad.append(f"still running after 120 s: {out[-500:]!r} {err[-500:]!r}")
                continue
            lines = out.splitlines()
            first = int(lines[0].rsplit(" ", 1)[1]) if lines else 0
            wrong = creator_differences(lines, TASK8_DATA, first_id=first) if lines else ["no output"]
            if run.returncode != 0 or wrong:
                self.bad.append(f"exit {run.returncode}: {wrong[:3]} stderr {err[-500:]!r}")
            else:
                self.good += 1


class Killer(threading.Thread):
    """CLIENT KILL of every client connection but its own, every `every` seconds."""

    def __init__(self, url, every, stopping):
        super().__init__(daemon=True)
        self.admin = redis.Redis.from_url(url)
        self.every, self.stopping = every, stopping
        self.kills = 0

    def run(self):
        while not self.stopping.wait(self.every):
            with contextlib.suppress(redis.RedisError):
                self.kills += self.admin.client_kill_filter(_type="normal", skipme=True)


def wrk(base, path, seconds):
    """Requests wrk made in `seconds` on `path`, and its non-2xx answers."""
    out = subprocess.run(
        ["wrk", "-t1", "-c16", f"-d{seconds}s", base + path],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    requests = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return int(requests.group(1)) if requests else 0, int(errors.group(1)) if errors else 0


def print_figures(title, figures):
    processes, server = figures
    print(f"\n{title}")
    for name, (rss, fds) in processes.items():
        print(f"  {name:<22} RSS {rss:7.1f} MB   fds {fds:4d}")
    print(
        "  redis                  "
        + ", ".join(
            f"{key} {value:.1f}" if isinstance(value, float) else f"{key} {value}"
            for key, value in server.items()
        )
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--kill-every", type=float, default=5.0, help="seconds between CLIENT KILLs")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 1
    seconds = options.minutes * 60
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        client.set("item.2", 10**9)  # never sold out
        client.set("item.3", 0)  # sold out: every reservation refused
        port = free_port()
        logs = Path(tempfile.mkdtemp(prefix="soak-"))
        processes = {
            "7_job_processor.py": start("7_job_processor.py", server.url, output_files(logs, "processor")),
            "9_stock.py": start("9_stock.py", server.url, output_files(logs, "stock"), PORT=str(port)),
        }
        base = f"http://127.0.0.1:{port}"
        stopping = threading.Event()
        creators, killer = Creators(server.url, stopping), Killer(server.url, options.kill_every, stopping)
        served, refused = 0, 0
        try:
            wait_for(lambda: port_open(port), timeout=30)
            creators.start()
            killer.start()
            paths = ["/reserve_product/2", "/list_products/1", "/reserve_product/3"]
            started = time.monotonic()
            served += wrk(base, paths[0], WARM_UP)[0]
            first = snapshot(client, processes)
            turn, minute = 0, 0
            while time.monotonic() - started < seconds:
                turn += 1
                length = max(1, min(WRK_TURN, int(seconds - (time.monotonic() - started))))
                made, errors = wrk(base, paths[turn % len(paths)], length)
                served, refused = served + made, refused + errors
                if (time.monotonic() - started) // 60 > minute:
                    minute = int((time.monotonic() - started) // 60)
                    print_minute(client, minute)
            last = snapshot(client, processes)
            census = key_census(client)
            stopping.set()
            creators.join(150)
            killer.join(10)
            dead = [name for name, process in processes.items() if process.poll() is not None]
        finally:
            stopping.set()
            for process in processes.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        ids = int(client.get("queuing:job_ids") or 0)
        heard = creators.good * len(TASK8_DATA)  # every outcome of a good run was heard
        print_figures(f"after {WARM_UP} s of warm-up", first)
        print_figures(f"after {options.minutes:g} min", last)
        print(
            f"\ncreator runs ended well {creators.good}, wrong {len(creators.bad)}; jobs created {ids}, "
            f"their outcomes heard {heard}; CLIENT KILLs {killer.kills} connections; wrk requests {served} "
            f"(non-2xx {refused}); processes that died: {dead or 'none'}"
        )
        print(
            "Redis's keys at the end, by kind: "
            + ", ".join(f"{kind} {n}" for kind, n in list(census.items())[:12])
        )
        for wrong in creators.bad[:5]:
            print(f"  wrong: {wrong}")
        for name in ("processor", "stock"):
            lines = (logs / f"{name}.err").read_text().splitlines()
            kinds = sorted({line.split(":")[0].split(" after ")[0] for line in lines})
            print(f"{name}'s stderr: {len(lines)} lines, of kinds {kinds}; in {logs}")
        return 1 if creators.bad or dead or heard != ids else 0


if __name__ == "__main__":
    sys.exit(main())
