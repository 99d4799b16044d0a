"""Where Redis's time goes, per job, for ours and BullMQ on the peer workload (bench.py
peer's: N notification jobs, 2% failing, every outcome heard), in one run: `bench.py redis`.

Each system runs twice on a flushed Redis:

1. timed: `INFO commandstats` (calls and microseconds of each command, those a script calls
   counted too) and the SLOWLOG with every command logged (slowlog-log-slower-than 0), from
   which each script's own calls and microseconds (an EVALSHA names its script's SHA1: ours
   from worker/lua.py, BullMQ's from its scripts' sources);
2. counted: MONITOR, which shows the commands each script calls (marked `lua`, right after
   the script's own line): how many of each per call of the script.

A script's own time, the Lua around its commands (its arguments made Lua strings, each call's
arguments and reply converted, the interpreter, its garbage), is its microseconds less
those of the commands it called, at their average cost in this run (commandstats mixes a
command's calls from scripts and from clients: a creator's HSET of a whole job costs more
than a script's of four fields, so the share is an estimate). Nothing here counts what the
kernel does for Redis (reading and writing its sockets): the CPU figures of bench.py peer do.
"""

import json
import statistics
import subprocess
import threading
from collections import Counter, defaultdict

import redis
from measures import fresh, start, stop, wait_for
from original import NODE, SYSTEMS, installed, run_creator

FAILING = 0.02
TOP_COMMANDS = 8  # commands sent directly by clients, shown one by one; the rest summed


def our_scripts():
    """{sha: name} of our worker's scripts (lua.FINISH: finish)."""
    from queuing_system import lua

    return {value.sha: name.lower() for name, value in vars(lua).items() if isinstance(value, lua.Script)}


def bullmq_scripts():
    """{sha: name} of BullMQ's scripts, as ioredis sends them (EVALSHA of their text)."""
    program = (
        "const fs=require('fs'),c=require('crypto'),d='node_modules/bullmq/dist/cjs/scripts/',o={};"
        "for(const f of fs.readdirSync(d)){if(!f.endsWith('.js')||f==='index.js')continue;"
        "for(const s of Object.values(require('./'+d+f)))if(s&&s.content)"
        "o[c.createHash('sha1').update(s.content).digest('hex')]=s.name;}"
        "console.log(JSON.stringify(o));"
    )
    done = subprocess.run(["node", "-e", program], cwd=NODE, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def run_system(system, client, url, count):
    processor = start(system.processor, url, system.cwd)
    try:
        wait_for(lambda: system.waiting(client), timeout=30)
        report, _said = run_creator(system, client, url, count, FAILING)
    finally:
        stop(processor)
    if report["outcomes"] != count:
        raise RuntimeError(f"{system.name}: heard {report['outcomes']} outcomes of {count}")


def timed(system, client, url, count, names):
    """({command: (calls, usec)}, {script: [calls, usec]}) of one run."""
    fresh(client)
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", 2_000_000)
    client.slowlog_reset()
    client.config_resetstat()
    try:
        run_system(system, client, url, count)
        stats = {
            name.removeprefix("cmdstat_"): (value["calls"], value["usec"])
            for name, value in client.info("commandstats").items()
        }
        scripts = defaultdict(lambda: [0, 0])
        for entry in client.slowlog_get(2_000_000):
            words = entry["command"].split(b" ", 2)
            if words[0].upper() in (b"EVALSHA", b"EVAL"):
                name = names.get(words[1].decode(errors="replace"), "(another script)")
                scripts[name][0] += 1
                scripts[name][1] += entry["duration"]
    finally:
        client.config_set("slowlog-log-slower-than", 10_000)
        client.config_set("slowlog-max-len", 128)
        client.slowlog_reset()
    return stats, scripts


def counted(system, client, url, count, names):
    """({unit: calls}, {unit: Counter of the commands it ran}) of one run, a unit being a
    script (by name) or a MULTI/EXEC transaction ("exec")."""
    fresh(client)
    calls, inner = Counter(), defaultdict(Counter)
    ready, done = threading.Event(), threading.Event()

    def listen():
        with redis.Redis(connection_pool=client.connection_pool).monitor() as monitor:
            ready.set()
            script, in_multi = None, set()  # the script running; clients between MULTI and EXEC
            for line in monitor.listen():
                if done.is_set():
                    return
                words = line["command"].split(" ", 2)
                command, who = words[0].lower(), (line.get("client_address"), line.get("client_port"))
                if line.get("client_type") == "lua":  # a script's commands follow its own line
                    if script is not None:
                        inner[script][command] += 1
                    continue
                script = None
                if command == "multi":
                    in_multi.add(who)
                elif command == "exec" and who in in_multi:
                    in_multi.discard(who)
                    calls["exec"] += 1
                elif who in in_multi:  # shown as queued, run by its EXEC
                    inner["exec"][command] += 1
                elif command in ("evalsha", "eval"):
                    script = names.get(words[1], "(another script)")
                    calls[script] += 1

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(10)
    run_system(system, client, url, count)
    done.set()
    client.ping()  # a last line, so the listener sees `done`
    listener.join(10)
    return calls, inner


def profile(system, client, url, count, names):
    """The rows of `system`'s table: (part, calls per job, usec per job, Lua's usec per job
    or None), and the total usec per job."""
    stats, scripts = timed(system, client, url, count, names)
    if "exec" in stats:
        scripts["exec"] = list(stats["exec"])
    unit_calls, inner = counted(system, client, url, count, names)
    per_call = {name: usec / calls for name, (calls, usec) in stats.items() if calls}
    rows, called = [], Counter()
    for name, (calls, usec) in sorted(scripts.items(), key=lambda item: -item[1][1]):
        commands, counted_calls = inner.get(name, Counter()), unit_calls.get(name) or 1
        called.update({command: n * calls / counted_calls for command, n in commands.items()})
        commands_usec = sum(n * per_call.get(command, 0.0) for command, n in commands.items())
        lua = None if name == "exec" else (usec - commands_usec * calls / counted_calls) / count
        if name == "exec":  # a batch of jobs, and RQ's own: per job
            what = ", ".join(f"{command} {n / count:.3g}" for command, n in commands.most_common())
            part = f"transactions (MULTI/EXEC): {what} per job"
        else:
            what = ", ".join(f"{command} {n / counted_calls:.3g}" for command, n in commands.most_common())
            part = f"{name}: {what or 'no command'} per call"
        rows.append((part, calls / count, usec / count, lua))
    direct = []
    for name, (calls, _usec) in stats.items():
        own_calls = calls - called.get(name, 0)
        if name not in ("evalsha", "eval", "exec") and own_calls > 0.5:
            direct.append((name, own_calls / count, own_calls * per_call[name] / count, None))
    direct.sort(key=lambda row: -row[2])
    rows += direct[:TOP_COMMANDS]
    rest = direct[TOP_COMMANDS:]
    if rest:
        rows.append((f"{len(rest)} other commands", sum(r[1] for r in rest), sum(r[2] for r in rest), None))
    return rows, sum(row[2] for row in rows)


def lua_usec(rows):
    return sum(row[3] for row in rows if row[3] is not None)


def bench_redis_time(client, url, count, repeat):
    """Print each system's table (the median of `repeat` runs' totals beside it)."""
    names = our_scripts()
    systems = [SYSTEMS["ours"]]
    if installed():
        names |= bullmq_scripts()
        systems.append(SYSTEMS["bullmq"])
    totals = {}
    for system in systems:
        runs = [profile(system, client, url, count, names) for _ in range(repeat)]
        rows, total = min(runs, key=lambda run: abs(run[1] - statistics.median(r[1] for r in runs)))
        totals[system.name] = statistics.median(run[1] for run in runs)
        print(f"\n  redis     {system.name}: {count:,} jobs, per job (the run of median total)")
        print(f"  {'part':<90} {'calls':>7} {'us':>8} {'of which Lua':>13}")
        for part, calls, usec, lua in rows:
            lua_text = f"{lua:13.1f}" if lua is not None else ""
            print(f"  {part[:90]:<90} {calls:7.2f} {usec:8.1f} {lua_text}")
        print(f"  {'all commands':<90} {'':>7} {total:8.1f} {lua_usec(rows):13.1f}", flush=True)
    if "bullmq" in totals:
        print(
            f"\n  redis     commands' time per job: ours {totals['ours']:.1f} us, bullmq"
            f" {totals['bullmq']:.1f} us -> ours {totals['ours'] / totals['bullmq']:.2f}x"
            " (the kernel's part left out: see bench.py peer for CPU)",
            flush=True,
        )
