"""A worker as RQ's tools see it (`rq info`, rq-dashboard, `Worker.all()`): its hash and the
sets that list it (layout.py), its heartbeat, its state, and RQ's command channel.

Written as RQ's own worker writes them (register_birth, heartbeat, set_state, register_death),
by plain commands: none is per job but the state, which goes with a job's start (take.lua).
"""

import json
import os
import socket
import sys
import time

import rq
from rq.command import PUBSUB_CHANNEL_TEMPLATE
from rq.defaults import DEFAULT_WORKER_TTL

from .. import layout
from ..connection import outage, worth_retrying
from ..console import warn

# RQ lets a worker's hash live worker_ttl + 60 seconds past each heartbeat, and lists a
# worker whose hash is gone as dead.
WORKER_TTL = DEFAULT_WORKER_TTL + 60
DEATH_TTL = 60  # seconds a dead worker's hash stays (RQ's register_death)
HEARTBEAT_EVERY = 15  # seconds
COMMAND_RETRY_EVERY = 2.0  # seconds between two tries of the command channel while Redis is away


class Presence:
    """The hash of worker `keys.name` on `queues` (their names), written with `client`."""

    def __init__(self, client, keys, queue_names, stopping):
        self.client = client
        self.keys = keys
        self.queue_names = list(queue_names)
        self.stopping = stopping
        self.state = None
        self.next_beat = 0.0
        self.pubsub = self.listener = None
        self.closing = False

    def register_birth(self):
        """RQ's register_birth: a live worker of the same name is refused (ValueError)."""
        key = self.keys.worker
        if self.client.exists(key) and not self.client.hexists(key, "death"):
            raise ValueError(f"There exists an active worker named {self.keys.name!r} already")
        moment = layout.now_text()
        with self.client.pipeline() as pipeline:
            pipeline.delete(key)
            pipeline.hset(key, mapping=self.fields(moment))
            pipeline.sadd(layout.WORKERS_KEY, key)
            for name in self.queue_names:
                pipeline.sadd(layout.QueueKeys(name).workers, key)
            pipeline.expire(key, WORKER_TTL)
            pipeline.execute()
        self.next_beat = time.monotonic() + HEARTBEAT_EVERY

    def fields(self, moment):
        """What RQ's Worker.serialize writes of a worker."""
        return {
            "birth": moment,
            "last_heartbeat": moment,
            "queues": ",".join(self.queue_names),
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "ip_address": self.ip_address(),
            "version": rq.__version__,
            "python_version": sys.version,
        }

    def ip_address(self):
        """Where Redis sees this worker from, as RQ finds it: the client named after it."""
        try:
            with self.client.pipeline(transaction=False) as pipeline:  # on one connection
                _named, info = pipeline.client_setname(self.keys.name).client_info().execute()
            return str(info["addr"])
        except Exception as error:  # noqa: BLE001 - a Redis without CLIENT INFO (< 6.2)
            if worth_retrying(error):
                raise
            return "unknown"

    def set_state(self, state, more=None):
        """RQ's set_state, written only when it changes (the start of a job sets it busy),
        with `more` fields of the worker's hash ({name: value}) then."""
        if state != self.state:
            self.client.hset(self.keys.worker, mapping={"state": state, **(more or {})})
            self.state = state

    def heartbeat(self):
        """RQ's heartbeat, every HEARTBEAT_EVERY seconds: the worker's hash lives on, and so
        does its executions' set."""
        if time.monotonic() < self.next_beat:
            return
        with self.client.pipeline(transaction=False) as pipeline:
            pipeline.hset(self.keys.worker, "last_heartbeat", layout.now_text())
            pipeline.expire(self.keys.worker, WORKER_TTL)
            pipeline.expire(self.keys.executions, WORKER_TTL)
            pipeline.execute()
        self.next_beat = time.monotonic() + HEARTBEAT_EVERY

    def register_death(self):
        """RQ's register_death."""
        key = self.keys.worker
        with self.client.pipeline() as pipeline:
            pipeline.srem(layout.WORKERS_KEY, key)
            for name in self.queue_names:
                pipeline.srem(layout.QueueKeys(name).workers, key)
            pipeline.hset(key, "death", layout.now_text())
            pipeline.expire(key, DEATH_TTL)
            pipeline.delete(self.keys.executions)
            pipeline.execute()

    def listen(self, connection):
        """RQ's command channel (rq.command.send_shutdown_command): `shutdown` stops the worker
        after the job in hand; the commands that stop a job in hand are refused (a job here
        stops at its timeout only)."""
        self.pubsub = connection.pubsub()
        self.pubsub.subscribe(**{PUBSUB_CHANNEL_TEMPLATE % self.keys.name: self.command})
        self.listener = self.pubsub.run_in_thread(
            sleep_time=60, daemon=True, exception_handler=self.command_channel_failed
        )

    def command(self, message):
        try:
            command = json.loads(message["data"].decode())["command"]
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        if command == "shutdown":
            self.stopping.set()
        else:
            warn(f"worker {self.keys.name}: {command!r} is not a command this worker takes")

    def command_channel_failed(self, error, pubsub, thread):
        if self.closing:
            return  # its connection closed under it as the worker stops: the thread ends
        if not worth_retrying(error):
            warn(f"worker {self.keys.name}: its command channel stopped: {error!r}")
            raise error
        outage.lost(error)
        self.stopping.wait(COMMAND_RETRY_EVERY)

    def stop_listening(self):
        """As RQ's unsubscribe: the reply to UNSUBSCRIBE wakes the thread, which then ends."""
        if self.pubsub is None:
            return
        self.closing = True
        try:
            self.pubsub.unsubscribe()
        except Exception as error:  # noqa: BLE001 - Redis away: the thread ends on its own
            if not worth_retrying(error):
                raise
        self.listener.stop()
        self.listener.join(timeout=1)
        if not self.listener.is_alive():  # else it waits on a Redis that does not answer (frozen):
            self.pubsub.close()  # closing its connection under it races with it; it is a daemon
