"""Are the workers of a queue alive? For a container's HEALTHCHECK or a monitor's probe:

    python -m queuing_system.health push_notification_code_2          # this host's workers
    python -m queuing_system.health push_notification_code_2 --any-host --at-least 4
    python -m queuing_system.health http://127.0.0.1:1245/healthz     # an app answers 200

One command for every role of a container image (deploy/Dockerfile's HEALTHCHECK): a
queue's name checks its workers, an http:// URL a web process.

Exit 0 if at least N workers (default 1) serve the queue, each with a heartbeat seen
within --max-silence seconds; exit 1 otherwise, with the reason in one line on stderr.
It reads what RQ's own tools read (`rq info -W`): the workers' hashes in Redis, which every
worker writes as it starts and renews by its heartbeat, between jobs, and which expire
when it dies. By default only workers on this host count (RQ records each worker's
hostname): a container's check must not pass on another container's workers.
"""

import argparse
import socket
import sys
import urllib.error
import urllib.request
from datetime import datetime, timezone

from rq import Queue, Worker

from .connection import describe, make_client
from .console import integer_at_least
from .logs import add_log_arguments
from .worker.presence import WORKER_TTL

EXIT_ALIVE, EXIT_NOT_ALIVE = 0, 1
URL_TIMEOUT = 5  # seconds


def living_workers(connection, queue_name, max_silence, hostname=None):
    """The workers of `queue_name` alive now: registered, not dead, a heartbeat seen within
    `max_silence` seconds, on `hostname` (None: any)."""
    now = datetime.now(timezone.utc)
    found = []
    for worker in Worker.all(queue=Queue(queue_name, connection=connection)):
        if worker.death_date is not None:
            continue
        if hostname is not None and worker.hostname != hostname:
            continue
        beat = worker.last_heartbeat
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=timezone.utc)
        if beat is None or (now - beat).total_seconds() > max_silence:
            continue
        found.append(worker)
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m queuing_system.health",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "queue", help="the queue whose workers are checked (push_notification_code_2), or an http:// URL"
    )
    parser.add_argument(
        "--at-least",
        type=integer_at_least(1, "positive integer"),
        default=1,
        metavar="N",
        help="workers needed (default: 1)",
    )
    parser.add_argument(
        "--max-silence",
        type=integer_at_least(1, "seconds"),
        default=WORKER_TTL,
        metavar="S",
        help=f"seconds since a worker's last heartbeat before it counts as gone (default: {WORKER_TTL}, "
        "a job's run included: a worker beats between jobs)",
    )
    parser.add_argument(
        "--any-host", action="store_true", help="count the workers of every host, not only this one's"
    )
    options = add_log_arguments(parser).parse_args(argv)
    if options.queue.startswith(("http://", "https://")):
        return answers(options.queue)
    hostname = None if options.any_host else socket.gethostname()
    where = "" if hostname is None else f" on {hostname}"
    connection = make_client(decode_responses=False)
    try:
        alive = living_workers(connection, options.queue, options.max_silence, hostname)
    except Exception as error:  # Redis away, a wrong password, a bad URL: one line, exit 1
        sys.stderr.write(f"unhealthy: cannot ask Redis: {describe(error)}\n")
        return EXIT_NOT_ALIVE
    finally:
        connection.close()
    if len(alive) < options.at_least:
        sys.stderr.write(
            f"unhealthy: {len(alive)} live worker(s) of {options.queue}{where}, {options.at_least} needed\n"
        )
        return EXIT_NOT_ALIVE
    sys.stdout.write(f"healthy: {len(alive)} live worker(s) of {options.queue}{where}\n")
    return EXIT_ALIVE


def answers(url):
    """Exit 0 if `url` answers 200 within URL_TIMEOUT seconds, else 1 with why."""
    try:
        with urllib.request.urlopen(url, timeout=URL_TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (OSError, ValueError) as error:
        sys.stderr.write(f"unhealthy: {url}: {error}\n")
        return EXIT_NOT_ALIVE
    if status != 200:
        sys.stderr.write(f"unhealthy: {url} answered {status}\n")
        return EXIT_NOT_ALIVE
    sys.stdout.write(f"healthy: {url} answered 200\n")
    return EXIT_ALIVE


if __name__ == "__main__":
    sys.exit(main())
