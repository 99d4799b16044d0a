"""What an orchestrator and a monitor ask a web process, beside its task's routes:

    GET /healthz   200 {"status":"ok"}: the process answers (liveness); asks Redis nothing
    GET /readyz    200 {"status":"ready"} if Redis answers a PING within READY_WITHIN
                   seconds, else 503 {"status":"not ready","reason":"..."} (readiness)
    GET /metrics   Prometheus's text format (metrics.py): the jobs this process's workers
                   ran, the Redis outages it saw, the depth of every queue RQ knows

Under our server a request's Redis commands wait in the event loop, within the request's
own deadline (greenlet_io.REDIS_WAIT, the same 2 s); under another WSGI server (flask run,
gunicorn) the PING goes on a thread of its own, waited for READY_WITHIN seconds, one at a
time: a frozen Redis holds one thread, not one per probe.
"""

import threading

import redis

from .. import metrics
from ..connection import describe, outage, worth_retrying
from . import greenlet_io

READY_WITHIN = 2.0  # seconds Redis has to answer a readiness probe
QUEUES_KEY = "rq:queues"  # RQ's set of the queues it knows (layout.QUEUES_KEY)


class Probe:
    """PINGs off the request's thread, one at a time, each waited for READY_WITHIN s."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending = None  # the thread of a PING not answered yet

    def reason(self, client):
        """None if Redis answered in time, else why not (words for a person)."""
        if greenlet_io.time_left() is not None:  # our server: the request's own deadline
            return self.ping(client)
        with self.lock:
            if self.pending is not None and self.pending.is_alive():
                return f"Redis did not answer within {READY_WITHIN:.0f}s"  # the last probe still waits
            answer = []
            self.pending = threading.Thread(target=lambda: answer.append(self.ping(client)), daemon=True)
            self.pending.start()
        self.pending.join(READY_WITHIN)
        if not answer:
            return f"Redis did not answer within {READY_WITHIN:.0f}s"
        return answer[0]

    @staticmethod
    def ping(client):
        """None if `client` answered a PING, else why not; an outage seen, said as any."""
        try:
            client.ping()
        except (redis.RedisError, OSError, ValueError) as error:  # ValueError: a bad REDIS_URL
            if worth_retrying(error):
                outage.lost(error)
            return describe(error)
        outage.back()
        return None


def add_operations_routes(app, client_of):
    """/healthz, /readyz and /metrics on `app`; `client_of(app)` is the redis-py client to
    ask (called per request: an app sets its client after this)."""
    probe = Probe()
    served = {}

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        reason = probe.reason(client_of(app))
        if reason is None:
            return {"status": "ready"}
        return {"status": "not ready", "reason": reason}, 503

    @app.get("/metrics")
    def metrics_text():
        if "registry" not in served:
            served["registry"] = metrics.registry(client_of(app), KnownQueues(client_of(app)))
        body, content_type = metrics.exposition(served["registry"])
        return app.response_class(body, content_type=content_type)

    return app


class KnownQueues:
    """The names of the queues RQ knows (its set rq:queues), read at each scrape."""

    def __init__(self, client):
        self.client = client

    def __iter__(self):
        names = self.client.smembers(QUEUES_KEY)
        prefix = "rq:queue:"
        for name in sorted(n.decode() if isinstance(n, bytes) else n for n in names):
            yield name.removeprefix(prefix)
