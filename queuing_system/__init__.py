"""What RQ, redis-py and Flask lack and the queuing-system exercise needs: the one public
surface of this package, and all that the numbered scripts import of it.

The scripts make their own redis-py clients, RQ queues, jobs and Flask apps. From here
they take what those libraries do not have, in the vocabulary of RQ and of Kue (the
original's job queue). Each name is written once, in PUBLIC below, with the module it
lives in; each has a docstring (help(queuing_system.NAME)). Everything else in the
package is free to move.

The package, room by room (an import-linter contract in pyproject.toml keeps the floors):
- here, the public surface, with the scripts' command line (arguments.py);
- the job side: Kue's ids and batches (jobs.py), the RQ callbacks that tell a creator how
  its jobs went (callbacks.py) and their progress (progress.py), the events it follows
  (follower.py, reporter.py);
- the worker (worker/): RQ's queues and data, one Lua step per transition;
- the web (web/): the apps' JSON rules, their HTTP server, round trips and Redis I/O;
- beneath the job side and the worker, what they share: RQ's layout (layout.py), the Lua
  scripts (lua.py), the events' encoding (events.py), RQ's Job as both take it (rq_job.py);
- beneath all, the connection policy (connection.py, replication.py, command_packer.py), what a script
  prints (console.py) and how it stops (shutdown.py, processes.py);
- apart, the grader (grader/, `python -m queuing_system`).
"""

import importlib

# Each public name, and the module it lives in (imported on first use: a script loads only
# what it takes). A name that is its module's own is the module itself.
PUBLIC = {
    # where Redis is, and saying whether it answers (the spec's connection lines)
    "redis_url": "connection",
    "make_client": "connection",
    "wait_until_connected": "connection",
    "wait_until_connected_async": "connection",
    "retry_delays": "connection",
    "worth_retrying": "connection",
    "not_connected": "connection",
    "CONNECTED": "connection",
    # a script's command line, what it prints, and how it stops
    "ArgumentParser": "arguments",
    "say": "console",
    "print_reply": "console",
    "run": "shutdown",
    # Kue's jobs on RQ
    "save_jobs": "jobs",
    "notification": "jobs",
    "JobFailed": "rq_job",
    "report_progress": "progress",
    # the job events a creator hears (Kue's job.on(...)), and the RQ callbacks that tell them
    "EventFollower": "follower",
    "JobReporter": "reporter",
    # the safe worker
    "WorkerPool": "worker.pool",
    "BackgroundWorker": "worker.pool",
    # the apps
    "use_json": "web.app",
    "serve": "web.app",
    "take_one": "web.reservations",
    "Sale": "web.sale",
}

__all__ = list(PUBLIC)


def __getattr__(name):
    try:
        module = PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    found = importlib.import_module(f".{module}", __name__)
    value = found if module == name else getattr(found, name)
    globals()[name] = value  # found at once next time
    return value


def __dir__():
    return sorted(__all__)
