"""A plain REDIS_URL whose primary is demoted (a failover it took no part in; a managed
Redis whose name moves to the new primary): a READONLY reply drops the connection and the
script connects again, by the name, which may lead to the new primary by then. While it
still leads to a replica, each process says so once on stderr and keeps trying; it never
waits on a connection it knows to be a replica.

The name is a TCP proxy here, pointed at the new primary as a DNS name would be."""

import socket
import threading
import time

import pytest
import redis

from queuing_system.grader.expected import TASK8_DATA, creator_differences
from queuing_system.grader.harness import wait_for
from queuing_system.grader.redis_server import RedisServer

pytestmark = pytest.mark.xdist_group("sentinels")

REPLICA_LINE = "is a replica: waiting for a primary"


class Name:
    """A TCP proxy on 127.0.0.1: each connection made to it goes to the port it points to
    at that moment; a connection made before stays where it went."""

    def __init__(self, port):
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.listener.close()
        for each in self.sockets:
            each.close()


def test_processes_on_a_demoted_primary_say_so_once_and_follow_the_name_to_the_new_one(scripts):
    with RedisServer() as old, RedisServer() as new:
        redis.Redis(port=new.port).replicaof("127.0.0.1", old.port)
        wait_for(lambda: len(redis.Redis(port=old.port).execute_command("ROLE")[2]) == 1, timeout=10)
        name = Name(old.port)
        try:
            url = f"redis://127.0.0.1:{name.port}/0"
            worker = scripts("7_job_processor.py", url)
            first = scripts("7_job_creator.py", url)
            assert first.wait() == 0 and creator_differences(first.output, TASK8_DATA, first_id=1) == []
            # The failover: `new` promoted, `old` its replica; the name still leads to `old`.
            redis.Redis(port=new.port).replicaof("NO", "ONE")
            redis.Redis(port=old.port).replicaof("127.0.0.1", new.port)
            wait_for(lambda: redis.Redis(port=old.port).info("replication")["master_link_status"] == "up")
            second = scripts("7_job_creator.py", url)
            wait_for(lambda: REPLICA_LINE in second.stderr and worker.stderr.count(REPLICA_LINE) >= 1)
            time.sleep(2)  # tries meanwhile, each answered READONLY: said once
            assert second.output == []
            name.target = new.port  # the name moves: connections made from now on reach `new`
            assert second.wait() == 0
            assert creator_differences(second.output, TASK8_DATA, first_id=12) == []
            for _ in range(18):
                worker.next_line()
            assert worker.stop() == 0
        finally:
            name.close()
    assert second.stderr.count(REPLICA_LINE) == 1, second.stderr
    assert worker.stderr.count(REPLICA_LINE) <= 2, worker.stderr  # one per worker process, at most
    assert "Traceback" not in worker.stderr + second.stderr
