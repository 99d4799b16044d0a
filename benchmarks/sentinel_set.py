"""A primary, its replicas and three Sentinels, all from the bundled redis-server, on free
ports of 127.0.0.1: what an engineer runs in production, in miniature, for the failover
tests (tests/failover/) and `bench.py failover`.

    with SentinelSet() as servers:
        servers.url                   # redis+sentinel://127.0.0.1:S1,.../mymaster/0
        servers.failover()            # SENTINEL FAILOVER, returns once a replica is promoted
        servers.kill_primary()        # SIGKILL; promoted(), then restart(old) to bring it back
        servers.freeze_primary()      # SIGSTOP; thaw(old) after the promotion

Every wait is on a condition (a role, a Sentinel's answer), never a fixed sleep.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from queuing_system.grader.redis_server import free_port, server_executable

SERVICE = "mymaster"
# Sentinel's own figures, scaled down so a trial takes seconds: a primary silent this long
# is down for a Sentinel (two agreeing: a failover)...
DOWN_AFTER_MS = 1500
# ...and a failover not done in this long is tried again (by another Sentinel, maybe).
FAILOVER_TIMEOUT_MS = 10_000
QUORUM = 2
READY_WITHIN = 30.0  # seconds for the whole set to start and agree
PROMOTED_WITHIN = 30.0  # seconds for a failover to name a new primary


def wait_until(condition, within, what):
    deadline = time.monotonic() + within
    while True:
        try:
            value = condition()
        except (redis.RedisError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {within:.0f}s: {what}")
        time.sleep(0.05)


class Node:
    """One redis-server process of the set, with its own port, directory and config."""

    def __init__(self, directory, name, sentinel=False):
        self.name = name
        self.port = free_port()
        self.directory = directory / name
        self.directory.mkdir()
        self.sentinel = sentinel
        self.config = self.directory / ("sentinel.conf" if sentinel else "redis.conf")
        self.process = None

    def start(self):
        args = [server_executable(), str(self.config)]
        if self.sentinel:
            args.append("--sentinel")
        log = open(self.directory / "log", "ab")  # noqa: SIM115 - the process keeps it
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)
        log.close()
        wait_until(lambda: self.client().ping(), READY_WITHIN, f"{self.name} answers")

    def client(self, **options):
        options = {"socket_timeout": 5, "decode_responses": True, **options}
        return redis.Redis(host="127.0.0.1", port=self.port, **options)

    def role(self):
        return self.client().execute_command("ROLE")[0]

    def running(self):
        return self.process is not None and self.process.poll() is None

    def signal(self, signum):
        self.process.send_signal(signum)

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
        self.process.wait()
        self.process = None


class SentinelSet:
    """A primary with `replicas` replicas and `sentinels` Sentinels (quorum QUORUM), none
    persisting (as the bundled server's default): see the module's docstring."""

    def __init__(self, replicas=2, sentinels=3, down_after_ms=DOWN_AFTER_MS):
        self.directory = Path(tempfile.mkdtemp(prefix="sentinel-set-"))
        self.down_after_ms = down_after_ms
        self.nodes = [Node(self.directory, f"redis-{n}") for n in range(1 + replicas)]
        self.sentinels = [Node(self.directory, f"sentinel-{n}", sentinel=True) for n in range(sentinels)]

    @property
    def url(self):
        hosts = ",".join(f"127.0.0.1:{each.port}" for each in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def plain_url(self, node=None):
        return f"redis://127.0.0.1:{(node or self.primary()).port}/0"

    def start(self):
        primary = self.nodes[0]
        for node in self.nodes:
            lines = [
                f"port {node.port}",
                "bind 127.0.0.1",
                f'dir "{node.directory}"',
                'save ""',
                "appendonly no",
                "repl-diskless-sync no",
            ]
            if node is not primary:
                lines.append(f"replicaof 127.0.0.1 {primary.port}")
            node.config.write_text("\n".join(lines) + "\n")
        for sentinel in self.sentinels:
            sentinel.config.write_text(
                "\n".join(
                    [
                        f"port {sentinel.port}",
                        "bind 127.0.0.1",
                        f'dir "{sentinel.directory}"',
                        f"sentinel monitor {SERVICE} 127.0.0.1 {primary.port} {QUORUM}",
                        f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}",
                        f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
                        f"sentinel parallel-syncs {SERVICE} {len(self.nodes)}",
                    ]
                )
                + "\n"
            )
        for node in [*self.nodes, *self.sentinels]:
            node.start()
        self.wait_settled(primary)
        return self

    def wait_settled(self, primary):
        """Until every Sentinel names `primary`, sees every other node and Sentinel as up,
        and every replica's link to it is up."""
        others = len(self.sentinels) - 1
        replicas = len(self.nodes) - 1

        def settled():
            for sentinel in self.sentinels:
                client = sentinel.client()
                master = client.sentinel_master(SERVICE)
                if (master["port"], master["num-other-sentinels"]) != (primary.port, others):
                    return False
                states = client.sentinel_slaves(SERVICE)
                up = [s for s in states if not (s["is_sdown"] or s["is_odown"] or s["is_disconnected"])]
                if len(up) < replicas or any(s.get("master-link-status") != "ok" for s in up):
                    return False
            info = primary.client().info("replication")
            return info["role"] == "master" and info["connected_slaves"] == replicas

        wait_until(settled, READY_WITHIN, f"the Sentinels agree on {primary.name} and see all")

    def primary(self):
        """The node every running Sentinel names as the primary (waits until they agree)."""

        def agreed():
            ports = {
                int(sentinel.client().sentinel_get_master_addr_by_name(SERVICE)[1])
                for sentinel in self.sentinels
                if sentinel.running()
            }
            return len(ports) == 1 and next(node for node in self.nodes if node.port in ports)

        return wait_until(agreed, PROMOTED_WITHIN, "the Sentinels agree on a primary")

    def promoted(self, old):
        """Wait until the Sentinels name a primary other than `old`, and it serves as one;
        returns it and the time.monotonic() it was seen promoted."""

        def moved():
            new = self.primary()
            return new is not old and new.role() == "master" and new

        new = wait_until(moved, PROMOTED_WITHIN, f"a replica of {old.name} promoted")
        return new, time.monotonic()

    def failover(self):
        """SENTINEL FAILOVER: the old primary, alive, is demoted. Returns (old, new, when)."""
        old = self.primary()
        self.sentinels[0].client().execute_command("SENTINEL", "FAILOVER", SERVICE)
        return (old, *self.promoted(old))

    def kill_primary(self):
        """SIGKILL of the primary. Returns (old, new, when); restart(old) brings it back, empty."""
        old = self.primary()
        old.signal(signal.SIGKILL)
        old.process.wait()
        return (old, *self.promoted(old))

    def freeze_primary(self):
        """SIGSTOP of the primary until a replica is promoted. Returns (old, new, when);
        thaw(old) lets it go on, to be demoted by the Sentinels."""
        old = self.primary()
        old.signal(signal.SIGSTOP)
        try:
            return (old, *self.promoted(old))
        except BaseException:
            old.signal(signal.SIGCONT)
            raise

    def thaw(self, node):
        node.signal(signal.SIGCONT)

    def restart(self, node):
        """Start `node` again (after kill_primary): it comes back as a primary of nothing,
        and the Sentinels turn it into a replica."""
        node.stop()
        node.start()

    def settle(self):
        """Until the Sentinels see every node up again, each a replica of the primary."""
        self.wait_settled(self.primary())

    def stop(self):
        for node in [*self.sentinels, *self.nodes]:
            node.stop()

    def close(self):
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info):
        self.close()


def pids(servers):
    """The pids of a set's processes (for a caller that must not leave them behind)."""
    return [node.process.pid for node in [*servers.nodes, *servers.sentinels] if node.process]


if __name__ == "__main__":  # a manual look: python benchmarks/sentinel_set.py
    with SentinelSet() as servers:
        print(servers.url, "primary", servers.primary().name, flush=True)
        old, new, _ = servers.failover()
        print("failover:", old.name, "->", new.name, flush=True)
        servers.settle()
        print("settled on", servers.primary().name, os.getpid())
