"""A write counts as done once the replicas hold it, and a replica is never written to.

Redis replicates asynchronously: a primary answers a write before its replicas have it,
and a failover promotes a replica that may lack the last writes. A write this project
acknowledges (a job created and its id, a job's step, a reservation confirmed) is
followed, on its own connection and in the same round trip, by a `WAIT` for the replicas
the primary should have (WAIT does nothing inside a Lua script or MULTI). A write they do
not all hold within WAIT_MS raises NotReplicated, a ConnectionError: the connection is
dropped, and the write is tried again on the primary found again (through the Sentinels,
or the URL's name), as after a reply lost with its connection. Each write's retry is made
safe for that already (a receipt, a step's number, a job found saved). A try after an
earlier one (`again`) may be answered without writing anything: a `PUBLISH` before its
WAIT makes the WAIT cover what the earlier try wrote, on whatever connection.

Which replicas a primary should have:
- with a Sentinel URL, those the Sentinels count as up (SentinelReplicas), not merely the
  ones connected: during a planned failover the old primary goes on taking writes for
  seconds with fewer replicas, and those writes are lost when it is demoted;
- with a plain URL, the most the primary has had over the last REMEMBER_FOR seconds
  (PlainReplicas, from ROLE): a replica that dropped is still waited for that long.
With no replica, nothing is sent but a ROLE now and then with a write.

A server that answers READONLY is a replica (a primary demoted by a failover, or a name
that now leads elsewhere): PrimaryOnly drops the connection and raises ReplicaError, so
that the next try connects again instead of waiting on a connection known to be a replica.
"""

import os
import socket
import threading
import time
import weakref
from dataclasses import dataclass

import redis

# Milliseconds a write waits for its replicas (WAIT's timeout). They answer within a
# millisecond or two; past this one is stopped, cut off or far behind, and the write is
# tried again (a replica the Sentinels mark down is then no longer waited for).
WAIT_MS = 1000
# What makes the WAIT after it cover everything written before it, on any connection: a
# write is replicated in order, and PUBLISH is propagated to the replicas as one.
BARRIER = ("PUBLISH", "queuing:replicated", "")
REFRESH_EVERY = 1.0  # seconds between two ROLEs of a plain URL's primary
REMEMBER_FOR = 30.0  # seconds a replica that left a plain URL's primary is still waited for
WATCH_EVERY = 0.5  # seconds between two looks at the Sentinels
LOOK_WITHIN = 0.5  # seconds a server asked of its replication (in a failover) may take


class ReplicaError(redis.ConnectionError):
    """The server is a replica (it answered READONLY): the connection was dropped, and
    connecting again may lead to the primary (the Sentinels', or the URL's name moved)."""


class NotReplicated(redis.ConnectionError):
    """A write the replicas did not all acknowledge within WAIT_MS: not done as far as the
    caller knows. The connection was dropped; the write is to be tried again."""


def where(connection):
    """HOST:PORT (or the socket's path) of a redis-py connection."""
    path = getattr(connection, "path", None)
    return path if path else f"{connection.host}:{connection.port}"


class PrimaryOnly:
    """Mixed into our redis-py connection classes (connection.make_client): a replica's
    answer (said_replica) drops the connection and raises ReplicaError, and the connection
    knows the `replicas` (a PlainReplicas or SentinelReplicas) its writes wait for."""

    def __init__(self, *args, replicas=None, **kwargs):
        self.replicas = replicas
        super().__init__(*args, **kwargs)

    def on_connect_check_health(self, *args, **kwargs):  # redis-py's step after each connect
        super().on_connect_check_health(*args, **kwargs)
        if self.replicas is not None:
            self.replicas.connected(self)

    def read_response(self, *args, **kwargs):
        try:
            return super().read_response(*args, **kwargs)
        except redis.ResponseError as error:
            if not said_replica(error):
                raise
            self.disconnect()
            raise ReplicaError(f"Redis at {where(self)} is a replica") from None


class SentinelPrimaryOnly(PrimaryOnly):
    """PrimaryOnly for a redis-py Sentinel's managed connection (before it in the bases)."""

    def send_packed_command(self, *args, **kwargs):
        # redis-py 8.1 connects a dropped connection here by connect_check_health, to the
        # address it had: a Sentinel's connection then went back to the old primary for
        # ever. connect() is where a Sentinel's connection asks the Sentinels first.
        if self._sock is None:
            self.connect()
        super().send_packed_command(*args, **kwargs)

    def interrupt(self):
        """Shut this connection's socket from another thread (SentinelReplicas, once the
        primary moved): a read waiting on it, on a frozen server, ends with a ConnectionError
        in its own thread, which then drops the connection as after any error. Its
        `_sock` is redis-py's (tests/test_redis_fence.py)."""
        sock = self._sock
        if sock is not None and self.pid == os.getpid():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def said_replica(error):
    """Whether a reply error says the server is a replica: READONLY (a script's write
    refused so too, see connection.ReplyErrorParser), or UNBLOCKED, which a primary
    demoted answers the commands that were waiting on it (a BLMOVE, say)."""
    if isinstance(error, redis.exceptions.ReadOnlyError):
        return True
    return getattr(error, "status_code", None) == "READONLY" or str(error).startswith("UNBLOCKED ")


def replicas_of(connection):
    """The replicas the writes on `connection` wait for; None for a connection that is not
    ours (fakeredis, a test's), whose writes wait for nothing."""
    return connection.replicas if isinstance(connection, PrimaryOnly) else None


@dataclass(frozen=True)
class Tail:
    """What follows a write in its round trip: the commands, the replicas the WAIT asks for
    (0: no WAIT), and whether a ROLE is asked (PlainReplicas), last."""

    commands: tuple = ()
    needed: int = 0
    asks_role: bool = False
    primary: tuple | None = None  # (host, port) the count is of, where the Sentinels say

    def acked(self, replies):
        """The WAIT's reply among the tail's `replies`."""
        return replies[-2] if self.asks_role else replies[-1]


NO_TAIL = Tail()
PACKED = {}  # {a tail's commands: them packed, as every connection packs them}


def wait_for(needed, again):
    if not needed:
        return ()
    return (BARRIER, ("WAIT", needed, WAIT_MS)) if again else (("WAIT", needed, WAIT_MS),)


def text(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def shortfall(connection, acked, needed):
    connection.disconnect()
    return NotReplicated(
        f"Redis at {where(connection)}: {acked} of {needed} replicas had the write within "
        f"{WAIT_MS / 1000:g} s: trying it again"
    )


POLICIES = weakref.WeakSet()  # every PlainReplicas and SentinelReplicas of this process


def after_fork_in_child():
    """A forked child (a processor's worker, an app's server process) starts with every
    policy's lock free: one held by a thread of the parent at the fork would stay held."""
    for policy in list(POLICIES):
        policy.lock = threading.Lock()


os.register_at_fork(after_in_child=after_fork_in_child)


class PlainReplicas:
    """The replicas of a plain URL's primary, as its ROLE lists them, asked with a write at
    most every REFRESH_EVERY seconds: the most seen over the last REMEMBER_FOR seconds. A
    Redis that refuses ROLE (an ACL, a managed service) has its writes wait for nothing."""

    def __init__(self):
        POLICIES.add(self)
        self.lock = threading.Lock()
        self.seen = []  # (time.monotonic(), replicas listed) of the ROLEs of REMEMBER_FOR
        self.most = 0  # the most of `seen`...
        self.recount_at = float("inf")  # ...until its oldest leaves REMEMBER_FOR
        self.next_ask = 0.0  # when to ask ROLE again
        self.refused = False

    def needed(self, now=None):
        now = time.monotonic() if now is None else now
        if now >= self.recount_at:
            with self.lock:
                self.seen = [(at, count) for at, count in self.seen if now - at < REMEMBER_FOR]
                self.recount()
        return self.most

    def recount(self):
        self.most = max((count for _, count in self.seen), default=0)
        self.recount_at = self.seen[0][0] + REMEMBER_FOR if self.seen else float("inf")

    def connected(self, connection):
        pass

    def tail(self, again=False):
        now = time.monotonic()
        needed = self.needed(now)
        asks = now >= self.next_ask and not self.refused
        if not (asks or needed):  # no replica lately: the write goes alone
            return NO_TAIL
        return Tail((*wait_for(needed, again), *((("ROLE",),) if asks else ())), needed, asks)

    def check(self, tail, replies, connection):
        """Raise NotReplicated (or ReplicaError) if the write falls short; False if the
        ROLE asked with it listed replicas it did not wait for (wait again), else True."""
        if tail.asks_role:
            self.heard(replies[-1], connection)
        if tail.needed:
            acked = tail.acked(replies)
            if isinstance(acked, Exception) or acked < tail.needed:
                raise shortfall(connection, acked, tail.needed)
            return True
        return self.needed() == 0

    def heard(self, role, connection):
        if isinstance(role, redis.ResponseError):  # NOPERM, an unknown command...
            with self.lock:
                self.refused = True
            return
        kind = text(role[0])
        if kind != "master":  # a replica: this connection goes no further
            connection.disconnect()
            raise ReplicaError(f"Redis at {where(connection)} is a replica")
        now = time.monotonic()
        with self.lock:
            self.seen.append((now, len(role[2])))
            self.recount()
            self.next_ask = now + REFRESH_EVERY


def flags_of(state):
    """The flags of an entry of SENTINEL REPLICAS (redis-py's parse: text, or a set)."""
    return state["flags"] if isinstance(state["flags"], set) else set(text(state["flags"]).split(","))


class SentinelReplicas:
    """The replicas the Sentinels of `sentinel` (redis-py's Sentinel) count as up for
    `service`, and where its primary is, looked at every WATCH_EVERY seconds by a thread of
    this process. Once the primary has moved, our connections to anything else are shut
    (SentinelPrimaryOnly.interrupt): one waiting on a primary frozen or demoted connects again,
    through the Sentinels, instead of waiting for it to wake. `nodes` are the options to
    connect to the primary and its replicas with (their password)."""

    def __init__(self, sentinel, service, nodes=None):
        POLICIES.add(self)
        self.sentinel = sentinel
        self.service = service
        self.nodes = {**(nodes or {}), "socket_timeout": LOOK_WITHIN, "socket_connect_timeout": LOOK_WITHIN}
        self.lock = threading.Lock()
        self.view = None  # a View, once looked
        self.connections = weakref.WeakSet()
        self.pid = None  # the process whose thread looks (a forked child starts its own)

    def current(self):
        """The View the Sentinels gave last."""
        self.watch()
        if self.view is None:
            self.look()
            if self.view is None:  # most Sentinels did not answer: no write can count as done
                raise NotReplicated(f"Most Sentinels did not say where {self.service!r} is")
        return self.view

    def connected(self, connection):
        self.watch()
        with self.lock:
            self.connections.add(connection)

    def tail(self, again=False):
        view = self.current()
        if view.replaced:
            host, port = view.primary
            raise NotReplicated(f"Redis at {host}:{port} is being replaced by a failover: trying again")
        return Tail(wait_for(view.needed, again), view.needed, primary=view.primary)

    def check(self, tail, replies, connection):
        """Raise NotReplicated if the write falls short, or went to another server than
        the primary the count is of: in a failover, the old primary's replicas can answer
        its WAIT (a replica being moved to the new one) for a write the new one lacks."""
        if (connection.host, int(connection.port)) != tail.primary:
            connection.disconnect()
            host, port = tail.primary
            raise NotReplicated(f"Redis at {where(connection)} is no longer the primary ({host}:{port} is)")
        if tail.needed:
            acked = tail.acked(replies)
            if isinstance(acked, Exception) or acked < tail.needed:
                raise shortfall(connection, acked, tail.needed)
        return True

    def watch(self):
        if self.pid == os.getpid():
            return
        with self.lock:
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()
            self.connections = weakref.WeakSet()  # a parent's: not this process's to shut
            threading.Thread(target=self.keep_looking, name="sentinel-watch", daemon=True).start()

    def keep_looking(self):
        pid = os.getpid()
        while self.pid == pid:
            try:
                self.look()
            except Exception:  # noqa: BLE001 - the Sentinels away: the connections say so themselves
                pass
            time.sleep(WATCH_EVERY)

    def look(self):
        """Ask every Sentinel where the primary is and which of its replicas are up; the
        primary is the one most of them name. Then shut our connections to anything else.
        Fewer than a majority of the Sentinels answering (all busy, cut off) change nothing:
        the one running a failover may count the replica it promotes out (it drops its
        clients as it turns primary), where the others would count it in."""
        views = []
        for sentinel in self.sentinel.sentinels:
            try:
                state = sentinel.sentinel_master(self.service)
                if not self.sentinel.check_master_state(state, self.service):
                    continue
                primary = (text(state["ip"]), int(state["port"]))
                views.append((primary, sentinel.sentinel_slaves(self.service)))
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                continue
        if len(views) <= len(self.sentinel.sentinels) // 2:
            return
        primaries = [primary for primary, _ in views]
        primary = max(primaries, key=primaries.count)
        view = self.counted(primary, [replicas for named, replicas in views if named == primary])
        with self.lock:
            self.view = view
            stale = [each for each in self.connections if (each.host, int(each.port)) != primary]
        for connection in stale:
            connection.interrupt()

    def counted(self, primary, lists):
        """The View of `primary`, from the Sentinels' `lists` of its replicas (redis-py's
        parse of SENTINEL REPLICAS), each counted as the Sentinel that sees most up saw it.

        A replica that is down, or cut off from the Sentinels, is not waited for. One that
        reports itself a primary is either promoted out of `primary` by a failover under
        way (then `primary`'s writes are lost when it is demoted: it is `replaced`, its
        writes tried again until the Sentinels name the new one), or an old primary back
        and not yet turned into a replica (then it is not waited for, and the new primary
        serves at once). Only the Sentinel running a failover flags the replica it
        promotes; the others, and a process that starts meanwhile, tell the two apart by
        the replica's replication id: promoted out of `primary`, it keeps `primary`'s as
        its second (master_replid2)."""
        needed, replaced = 0, False
        for replicas in lists:
            # Promoted by the failover under way, even cut off a moment as it turns primary.
            replaced = replaced or any("promoted" in flags_of(state) for state in replicas)
            up = [state for state in replicas if not flags_of(state) & {"s_down", "o_down", "disconnected"}]
            serving = [state for state in up if text(state.get("role-reported", "slave")) != "master"]
            needed = max(needed, len(serving))
            for state in up:
                if state not in serving and self.promoted_out_of(primary, state):
                    replaced = True
        return View(primary, needed, replaced)

    def promoted_out_of(self, primary, state):
        """Whether the replica `state`, which reports itself a primary, was promoted out of
        `primary` (or cannot be told apart from one that was)."""
        if "promoted" in flags_of(state):
            return True
        try:
            theirs = self.replication_info((text(state["ip"]), int(state["port"])))
            ours = self.replication_info(primary)
        except (redis.RedisError, OSError):
            return True  # the safe side: a few writes wait a moment longer
        return theirs.get("master_replid2") == ours.get("master_replid")

    def replication_info(self, address):
        host, port = address
        with redis.Redis(host=host, port=port, **self.nodes) as client:
            return client.info("replication")


@dataclass(frozen=True)
class View:
    """What the Sentinels say of a service: its primary (host, port), how many replicas
    its writes wait for, and whether a failover is replacing it."""

    primary: tuple
    needed: int
    replaced: bool = False


def sent(connection, commands, again=False):
    """The replies of `commands` (each a tuple of a command's arguments), sent on
    `connection` in one write and followed by a WAIT for its primary's replicas (see
    replicas_of); `again`: they are a try after an earlier one (see the module's doc). A
    reply error is given as its reply, not raised; the WAIT's shortfall is raised
    (NotReplicated), and a replica's answer (ReplicaError)."""
    replicas = replicas_of(connection)
    tail = NO_TAIL if replicas is None else replicas.tail(again)
    replies = round_trip(connection, commands, tail)
    if not tail.commands:
        if tail.primary is not None:  # no replica to wait for: the primary, at least, the right one
            replicas.check(tail, [], connection)
        return replies
    count = len(commands)
    answered = replies[:count]
    if any(isinstance(reply, redis.ResponseError) for reply in answered):
        return answered  # refused (NOSCRIPT, EXECABORT...): its error is the answer, not the WAIT's
    while not replicas.check(tail, replies[count:], connection):
        tail, count = replicas.tail(again=True), 0  # a ROLE sent with it listed replicas: wait for them
        replies = round_trip(connection, [], tail)
    return answered


def round_trip(connection, commands, tail=NO_TAIL):
    """The replies of `commands` (each a tuple of arguments, or bytes packed already: see
    lua.Script.packed), then of `tail`'s, sent in one write."""
    if not tail.commands:
        if len(commands) == 1:  # as redis-py sends one (pack_commands copies it into a buffer)
            if isinstance(commands[0], bytes):
                connection.send_packed_command(commands)
            else:
                connection.send_command(*commands[0])
            return [reply_or_error(connection)]
        if not commands:
            return []
    packed = [
        part
        for command in commands
        for part in ([command] if isinstance(command, bytes) else connection.pack_commands([command]))
    ]
    if tail.commands:
        if tail.commands not in PACKED:
            PACKED[tail.commands] = b"".join(connection.pack_commands(tail.commands))
        packed.append(PACKED[tail.commands])
    connection.send_packed_command([b"".join(packed)])  # one write: a part each is a system call each
    return [reply_or_error(connection) for _ in range(len(commands) + len(tail.commands))]


def reply_or_error(connection):
    try:
        return connection.read_response()
    except redis.ResponseError as error:
        return error


def on_one_connection(client, commands, again=False):
    """sent() on a connection of redis-py `client`'s pool (or its own, for a
    single-connection client), given back after; a connection that failed is dropped."""
    own = client.connection
    if own is not None:
        with client.single_connection_lock:
            return sent(own, commands, again)
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        return sent(connection, commands, again)
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)


def acknowledged_command(client, *command, again=False):
    """`client.execute_command(*command)`'s reply, once the primary's replicas have it: on
    one of its connections, the WAIT after it (on_one_connection). A client whose
    connections are not ours (fakeredis, a test's stand-in) waits for no replica."""
    pool = getattr(client, "connection_pool", None)
    if pool is None or not issubclass(pool.connection_class, PrimaryOnly):
        return client.execute_command(*command)
    return answer(on_one_connection(client, [command], again)[0])


def answer(reply):
    """A reply of sent(), raised if it is an error."""
    if isinstance(reply, Exception):
        raise reply
    return reply
