"""The failover trials' peers (benchmarks/failover.py), side by side with ours on the same
Sentinel set and the same fault, each on a queue of its own:

  bullmq  BullMQ 5 on Node: its Worker (concurrency 2) and a creator with its QueueEvents
          (node/failover_processor.js, node/failover_creator.js), ioredis on the Sentinels
          (`sentinels`, `name`), as BullMQ's docs connect; ioredis's defaults otherwise
  rq      RQ's own `rq worker` (two of them), its Sentinel setting from the URL, and a
          creator by RQ's enqueue_many that looks at its jobs' status (failover_rq.py)

Each prints the lines ours prints (`created`, `completed`, `failed`, `Sending ...`), so a
trial counts them alike.
"""

import shutil
import sys
from pathlib import Path

from benchmarks.failover import Creators, Streamed, System, env_for, text

HERE = Path(__file__).resolve().parent
NODE = HERE / "node"


class BullMQ(System):
    name = "bullmq"
    queue = "failover_bullmq"

    @staticmethod
    def available():
        return shutil.which("node") is not None and (NODE / "node_modules" / "bullmq").is_dir()

    def start(self):
        self.processes["processor"] = Streamed(["node", "failover_processor.js"], env_for(self.url), cwd=NODE)

    def creators(self):
        return Creators(["node", "failover_creator.js"], env_for(self.url), cwd=NODE)

    def quiet(self, client):
        keys = [f"bull:{self.queue}:{name}" for name in ("wait", "active", "paused", "prioritized")]
        return not any(
            client.exists(key) and client.type(key) != b"none" and size(client, key) for key in keys
        )

    def ended_ids(self, client):
        return {
            text(each)
            for name in ("completed", "failed")
            for each in client.zrange(f"bull:{self.queue}:{name}", 0, -1)
        }


def size(client, key):
    kind = text(client.type(key))
    return {"list": client.llen, "zset": client.zcard, "set": client.scard}.get(kind, lambda _: 0)(key)


class RQWorkers(System):
    name = "rq"
    queue = "failover_rq"
    workers = 2

    def start(self):
        env = env_for(self.url)
        for n in range(self.workers):
            command = [sys.executable, "-m", "rq.cli", "worker", "-c", "failover_rq", self.queue]
            self.processes[f"processor {n}"] = Streamed(command, env, cwd=HERE)

    def creators(self):
        return Creators([sys.executable, "failover_rq.py"], env_for(self.url), cwd=HERE)

    def quiet(self, client):
        return not client.llen(f"rq:queue:{self.queue}") and not client.zcard(f"rq:wip:{self.queue}")

    def ended_ids(self, client):
        return {
            text(each)
            for name in ("finished", "failed")
            for each in client.zrange(f"rq:{name}:{self.queue}", 0, -1)
        }


PEERS = {"bullmq": BullMQ, "rq": RQWorkers}
