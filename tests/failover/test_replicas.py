"""A write the package acknowledges waits for the primary's replicas (replication.py): the
replicas a plain URL's primary lists (ROLE), and for REMEMBER_FOR seconds one that left.
A write they lack is not acknowledged, said once, and tried again; with no replica,
nothing is waited for and nothing changes."""

import os
import signal
import time

import pytest
import redis
import redis.sentinel

from queuing_system.connection import make_client
from queuing_system.grader.expected import TASK8_DATA, creator_differences
from queuing_system.grader.harness import wait_for
from queuing_system.grader.redis_server import RedisServer
from queuing_system.jobs import next_job_ids
from queuing_system.replication import WAIT_MS, NotReplicated, SentinelReplicas, View
from queuing_system.web.reservations import take_one

pytestmark = pytest.mark.xdist_group("sentinels")


@pytest.fixture
def primary_and_replica():
    with RedisServer() as primary, RedisServer() as replica:
        redis.Redis(port=replica.port).replicaof("127.0.0.1", primary.port)
        wait_for(lambda: len(redis.Redis(port=primary.port).execute_command("ROLE")[2]) == 1, timeout=10)
        yield primary, replica


def waits(server):
    return redis.Redis(port=server.port).info("commandstats").get("cmdstat_wait", {}).get("calls", 0)


def test_an_id_the_replica_lacks_is_not_handed_out(primary_and_replica):
    primary, replica = primary_and_replica
    client = make_client(primary.url, decode_responses=False)
    assert next_job_ids(client, 2) == ["1", "2"] and waits(primary) >= 1
    replica.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(NotReplicated, match="0 of 1 replicas had the write within 1 s"):
            next_job_ids(client, 1)  # id 3: taken on the primary, never acknowledged
        assert WAIT_MS / 1000 <= time.monotonic() - started < WAIT_MS / 1000 + 2
    finally:
        replica.process.send_signal(signal.SIGCONT)
    assert next_job_ids(client, 1) == ["4"]  # 3 was never handed out: no id given twice


def test_a_reservation_the_replica_lacks_is_not_confirmed(primary_and_replica):
    primary, replica = primary_and_replica
    stock = make_client(primary.url)
    assert take_one(stock, "item.1", 4) == 3
    replica.process.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(NotReplicated):  # taken on the primary: tried again, its receipt kept
            take_one(stock, "item.1", 4)
    finally:
        replica.process.send_signal(signal.SIGCONT)
    assert take_one(stock, "item.1", 4) == 1
    assert redis.Redis(port=replica.port).get("item.1") in (b"1", None)  # caught up, or catching up


def test_a_replica_that_left_is_still_waited_for(primary_and_replica):
    primary, replica = primary_and_replica
    client = make_client(primary.url, decode_responses=False)
    next_job_ids(client, 1)
    redis.Redis(port=replica.port).replicaof("NO", "ONE")  # a promotion the primary has not heard of
    with pytest.raises(NotReplicated):
        next_job_ids(client, 1)


def test_a_processor_and_creator_wait_for_a_frozen_replica_and_say_so_once(primary_and_replica, scripts):
    primary, replica = primary_and_replica
    worker = scripts("7_job_processor.py", primary.url)
    replica.process.send_signal(signal.SIGSTOP)
    try:
        creator = scripts("7_job_creator.py", primary.url)
        wait_for(lambda: "replicas had the write" in creator.stderr, timeout=15)
        time.sleep(2 * WAIT_MS / 1000)  # more shortfalls: said once
        assert creator.output == []  # nothing acknowledged yet
    finally:
        replica.process.send_signal(signal.SIGCONT)
    assert creator.wait() == 0
    assert creator_differences(creator.output, TASK8_DATA, first_id=int(creator.output[0].split()[-1])) == []
    said = [line for line in creator.stderr.splitlines() if "replicas had the write" in line]
    assert len(said) == 1, creator.stderr
    for _ in range(9):
        worker.next_line()
    assert worker.stop() == 0


def test_with_no_replica_nothing_is_waited_for(redis_url, scripts):
    redis.Redis.from_url(redis_url).config_resetstat()  # the session's server: counted from here
    worker = scripts("7_job_processor.py", redis_url)
    creator = scripts("7_job_creator.py", redis_url)
    assert creator.wait() == 0 and creator_differences(creator.output, TASK8_DATA, first_id=1) == []
    for _ in range(9):
        worker.next_line()
    assert worker.stop() == 0
    stats = redis.Redis.from_url(redis_url).info("commandstats")
    assert "cmdstat_wait" not in stats and "cmdstat_publish" not in stats
    assert stats.get("cmdstat_role", {}).get("calls", 0) <= 6  # one per process and second at most


def replica(port, role="slave", flags="slave"):
    """An entry of SENTINEL REPLICAS, as redis-py parses it."""
    return {"ip": "10.0.0.1", "port": port, "flags": flags, "role-reported": role}


REPLIDS = {1: {"master_replid": "one"}, 2: {"master_replid": "two", "master_replid2": "one"}}


@pytest.fixture
def policy(monkeypatch):
    """A SentinelReplicas whose servers 1 and 2 answer INFO replication: 2 was promoted
    out of 1 (it keeps 1's replication id as its second); 3 and 4 as replicas of either."""
    made = SentinelReplicas(redis.sentinel.Sentinel([]), "mymaster")
    monkeypatch.setattr(made, "replication_info", lambda address: REPLIDS.get(address[1], {}))
    made.pid = os.getpid()  # no watching thread: the test looks itself
    return made


def test_which_replicas_the_sentinels_count_for_a_primary(policy):
    one, two = ("10.0.0.1", 1), ("10.0.0.1", 2)
    assert policy.counted(one, [[replica(2), replica(3)]]) == View(one, 2)
    # Down, or cut off from the Sentinels: not waited for.
    assert policy.counted(
        one, [[replica(3, flags="slave,s_down"), replica(4, flags="slave,disconnected")]]
    ) == View(one, 0)
    # The Sentinel that sees most up is believed.
    assert policy.counted(one, [[replica(3)], [replica(3), replica(4)]]) == View(one, 2)
    # 2, promoted out of 1 (flagged so by the Sentinel running the failover, or told by its
    # replication id): 1 is being replaced, its writes tried again.
    assert policy.counted(one, [[replica(2, role="master", flags="slave,promoted"), replica(3)]]).replaced
    assert policy.counted(one, [[replica(2, role="master"), replica(3)]]).replaced
    # 1, back after the failover and listed as 2's replica, still says it is a primary:
    # not waited for, and 2 serves.
    assert policy.counted(two, [[replica(1, role="master"), replica(3)]]) == View(two, 1)


class SentinelSaying:
    """A Sentinel's answers: the primary it names, and the replicas it lists."""

    def __init__(self, port, replicas):
        self.state = {"ip": "10.0.0.1", "port": port, "is_master": True, "is_sdown": False, "is_odown": False}
        self.state["num-other-sentinels"] = 2
        self.replicas = replicas

    def sentinel_master(self, service):
        return self.state

    def sentinel_slaves(self, service):
        return self.replicas


def test_in_a_planned_failover_the_old_primary_takes_no_write_the_sentinels_not_running_it_see(policy):
    """Only the Sentinel running it flags the replica it promotes; the others see it report
    itself a primary. A process that starts then (a creator) has seen nothing before."""
    others = [SentinelSaying(1, [replica(2, role="master"), replica(3)]) for _ in range(2)]
    policy.sentinel.sentinels = [*others, SentinelSaying(1, [])]  # the one running it, too slow
    policy.look()
    assert policy.view == View(("10.0.0.1", 1), 1, replaced=True)
    with pytest.raises(NotReplicated, match="is being replaced by a failover"):
        policy.tail()
    # Once they all name the new primary, the old one (back, still saying it is a primary)
    # is not waited for.
    policy.sentinel.sentinels = [SentinelSaying(2, [replica(1, role="master"), replica(3)]) for _ in range(3)]
    policy.look()
    assert policy.view == View(("10.0.0.1", 2), 1)


class SentinelAway:
    def sentinel_master(self, service):
        raise redis.TimeoutError("Timeout reading from socket")


def test_a_view_of_fewer_than_most_sentinels_changes_nothing(policy):
    """The Sentinel running a failover drops the promoted replica's connections as it turns
    it primary (its link shows it disconnected); alone, it would count one replica less."""
    running = SentinelSaying(1, [replica(3)])
    policy.sentinel.sentinels = [SentinelAway(), SentinelAway(), running]
    policy.look()
    assert policy.view is None
    with pytest.raises(NotReplicated, match="Most Sentinels did not say"):
        policy.tail()
    policy.sentinel.sentinels = [SentinelAway(), SentinelSaying(1, [replica(2), replica(3)]), running]
    policy.look()
    assert policy.view == View(("10.0.0.1", 1), 2)
    # Flagged promoted, even cut off: the primary is being replaced.
    flagged = SentinelSaying(1, [replica(2, flags="slave,promoted,disconnected"), replica(3)])
    policy.sentinel.sentinels = [SentinelAway(), SentinelSaying(1, [replica(2), replica(3)]), flagged]
    policy.look()
    assert policy.view.replaced
