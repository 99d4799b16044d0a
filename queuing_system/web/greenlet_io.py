"""A request's Redis commands wait in the event loop, never on it, and never past the
request's deadline.

The apps answer each connection's requests in a greenlet (round_trips.py) on the one
thread that runs the event loop. Their Redis replies used to be read there with blocking
sockets: a Redis frozen (SIGSTOP, a partition, DEBUG SLEEP) froze the whole server
process, requests that need no Redis included, until redis-py's socket timeout (5 s) and
its retries ran out, 20 s and more. Here the sockets of the apps' Redis connections
(LoopConnection) wait as a greenlet waits: a read, a write or a connect that cannot go on
now parks the greenlet until the event loop sees the socket ready, or until the request's
deadline (REDIS_WAIT after its app call began): then socket.timeout, which redis-py
raises as TimeoutError, and the app answers 503. After its deadline a request sends
Redis nothing more: what it had not sent cannot be done for a client told 503.

Outside a request's greenlet (the seat app's worker and listener threads, start-up),
these sockets block as any socket does, within redis-py's socket timeout.

This touches redis-py's Connection._connect (the socket it returns) and the socket
methods redis-py calls (sendall, recv, recv_into, settimeout...): fenced with the rest in
tests/test_redis_fence.py.
"""

import errno
import os
import select
import socket
import threading
import time

import redis

from ..connection import current_request

# Seconds a request's Redis commands may take in all, from its app call on, connecting
# and retrying included: then it is answered 503. A reservation is done in about a
# millisecond; seconds mean Redis is frozen, swamped, or cut off.
REDIS_WAIT = 2.0
# A reservation Redis runs later than this before the request's deadline is refused by
# the script itself (see reservations.py): its reply would reach a request already
# answered 503. The margin covers the reply's way back and clocks apart by less.
LATE_MARGIN = 0.5  # seconds

READY, LATE = object(), object()


def request():
    """The current request's answering greenlet (round_trips.Answering), or None outside one."""
    return current_request.get()


def time_left():
    """Seconds left to the current request's deadline (0 once past), or None outside a
    request."""
    answering = request()
    if answering is None or answering.deadline is None:
        return None
    return max(answering.deadline - time.monotonic(), 0.0)


def wall_deadline():
    """The current request's deadline less LATE_MARGIN, as Unix time (what Redis's TIME
    says), or None outside a request."""
    left = time_left()
    return None if left is None else time.time() + left - LATE_MARGIN


def extend_deadline(seconds):
    """Give the current request `seconds` more for Redis from now (or from its deadline,
    if later): a reservation settling whether it was done (reservations.settle)."""
    answering = request()
    if answering is not None and answering.deadline is not None:
        answering.deadline = max(answering.deadline, time.monotonic()) + seconds


def sleep(seconds):
    """time.sleep, except in a request's greenlet: there the event loop serves the other
    requests meanwhile."""
    answering = request()
    if answering is None:
        time.sleep(seconds)
        return
    timer = answering.round_trips.loop.call_later(seconds, answering.switch, READY)
    try:
        answering.round_trips.park(answering)
    finally:
        timer.cancel()


def wait(fd, writable, timeout):
    """Until the file descriptor `fd` is ready to write (or read), for up to `timeout`
    seconds (None: no limit) and, in a request, up to its deadline; TimeoutError (which is
    socket.timeout) after. (A LoopSocket waits for its replies its own way.)"""
    answering = request()
    if answering is None:
        ready = select.select([], [fd], [], timeout) if writable else select.select([fd], [], [], timeout)
        if not any(ready):
            raise TimeoutError("timed out")
        return
    loop = answering.round_trips.loop
    (loop.add_writer if writable else loop.add_reader)(fd, answering.switch, READY)
    try:
        woken = answering.round_trips.park(answering, wait_until(answering, timeout))
    finally:
        (loop.remove_writer if writable else loop.remove_reader)(fd)
    if woken is LATE:
        raise TimeoutError("timed out: the request's time for Redis is up")


def wait_until(answering, timeout):
    """When a wait of `answering`'s for up to `timeout` seconds ends: its deadline, or sooner."""
    if timeout is None:
        return answering.deadline
    until = time.monotonic() + timeout
    return until if answering.deadline is None else min(answering.deadline, until)


def heard_redis():
    """Whether the current request has had a reply from Redis: an app's outage ends
    there (app.py)."""
    answering = request()
    return answering is not None and answering.heard_redis


def past_deadline():
    left = time_left()
    return left is not None and left <= 0


class LoopSocket:
    """A connected socket, non-blocking underneath, whose calls wait: in a request's
    greenlet by parking it (see `wait`), elsewhere by blocking. Its timeout (settimeout) is
    per wait, as a socket's is per call.

    For its replies the event loop watches it from the first wait on, until it closes:
    registering and unregistering a socket for each reply cost two system calls of the
    six a round trip took. And a read right after a command went out waits first: the
    reply cannot be there yet, and trying would cost a system call to learn it."""

    def __init__(self, sock, timeout):
        self._sock = sock
        self._fd = sock.fileno()
        self._timeout = timeout
        sock.setblocking(False)
        self._loop = None  # the event loop watching it for replies
        self._loop_thread = None  # the thread running that loop
        self._reader = None  # the greenlet waiting for a reply
        self._sent = False  # a command went out since the last reply came

    def settimeout(self, timeout):
        self._timeout = timeout

    def gettimeout(self):
        return self._timeout

    def setblocking(self, flag):
        self._timeout = None if flag else 0.0

    def recv_into(self, buffer, nbytes=0, flags=0):
        return self._read(self._sock.recv_into, buffer, nbytes, flags)

    def recv(self, bufsize, flags=0):
        return self._read(self._sock.recv, bufsize, flags)

    def send(self, data, flags=0):
        if past_deadline():  # never a command sent for a request already answered 503
            raise TimeoutError("timed out: the request's time for Redis is up")
        while True:
            try:
                sent = self._sock.send(data, flags)
            except (BlockingIOError, InterruptedError):
                if self._timeout == 0:
                    raise BlockingIOError(errno.EWOULDBLOCK, os.strerror(errno.EWOULDBLOCK)) from None
                wait(self._fd, True, self._timeout)
                continue
            self._sent = True
            return sent

    def sendall(self, data, flags=0):
        view = memoryview(data).cast("B")
        while view:
            view = view[self.send(view, flags) :]

    def _read(self, operation, *args):
        answering = request()
        if not peeking(args):
            if answering is not None and self._sent and self._timeout != 0:
                self._wait_for_reply(answering)
            self._sent = False
        while True:
            try:
                done = operation(*args)
            except (BlockingIOError, InterruptedError):
                if self._timeout == 0:
                    raise BlockingIOError(errno.EWOULDBLOCK, os.strerror(errno.EWOULDBLOCK)) from None
                if answering is None:
                    wait(self._fd, False, self._timeout)
                else:
                    self._wait_for_reply(answering)
                continue
            if done and answering is not None:
                answering.heard_redis = True
            return done

    def _wait_for_reply(self, answering):
        round_trips = answering.round_trips
        if self._loop is not round_trips.loop:
            self._unwatch()
            round_trips.loop.add_reader(self._fd, self._readable)
            self._loop, self._loop_thread = round_trips.loop, threading.get_ident()
        self._reader = answering
        try:
            woken = round_trips.park(answering, wait_until(answering, self._timeout))
        finally:
            self._reader = None
        if woken is LATE:
            raise TimeoutError("timed out: the request's time for Redis is up")

    def _readable(self):
        """The event loop's callback: the greenlet waiting for a reply goes on. With none
        waiting (a reply to another thread, which took the connection from the pool; the
        server closing), it is watched no more."""
        reader, self._reader = self._reader, None
        if reader is None:
            self._unwatch()
        else:
            reader.switch(READY)

    def _unwatch(self):
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self._fd)

    def close(self):
        """Closed once the event loop watches it no more, so that its file descriptor
        cannot be another's meanwhile. Closed from another thread (the seat app's worker
        takes connections from the pool its requests use), that is done by the loop's own
        thread: asyncio's methods are not thread-safe."""
        loop = self._loop
        if loop is None or threading.get_ident() == self._loop_thread:
            self._unwatch()
            self._sock.close()
            return
        try:
            loop.call_soon_threadsafe(self.close)
        except RuntimeError:  # the loop is closed, its watching with it
            self._loop = None
            self._sock.close()

    def __getattr__(self, name):  # fileno, setsockopt, shutdown, getsockname...
        return getattr(self._sock, name)


def peeking(args):
    """Whether a recv's arguments ask only to peek (redis-py's look for a closed socket)."""
    return bool(args) and isinstance(args[-1], int) and bool(args[-1] & socket.MSG_PEEK)


class LoopSockets:
    """Mixed into a redis-py TCP connection class: it connects and talks through a
    LoopSocket (its _connect, as redis-py's, but with the connect itself waiting as `wait`
    does)."""

    def _connect(self):
        error = None
        for family, kind, proto, _name, address in socket.getaddrinfo(
            self.host, self.port, self.socket_type, socket.SOCK_STREAM
        ):
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.socket_keepalive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                    for option, value in self.socket_keepalive_options.items():
                        sock.setsockopt(socket.IPPROTO_TCP, option, value)
                sock.setblocking(False)
                code = sock.connect_ex(address)
                if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                    wait(sock.fileno(), True, self.socket_connect_timeout)
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, os.strerror(code))
                return LoopSocket(sock, self.socket_timeout)
            except OSError as failed:
                error = failed
                sock.close()
        raise error or OSError("socket.getaddrinfo returned an empty list")


class LoopConnection(LoopSockets, redis.Connection):
    """redis-py's TCP Connection, through a LoopSocket."""


# The connection classes made to connect through LoopSockets: {class: its Loop class}.
LOOP_CLASSES = {redis.Connection: LoopConnection}


def loop_class(connection_class):
    """`connection_class` connecting through LoopSockets, or None where it cannot: redis-py's
    TCP Connection, or a class of ours over it that says it is one (`plain_tcp`:
    connection.primary_class's, Sentinel's included)."""
    if connection_class not in LOOP_CLASSES:
        if not getattr(connection_class, "plain_tcp", False):
            return None
        LOOP_CLASSES[connection_class] = type(
            f"Loop{connection_class.__name__}", (LoopSockets, connection_class), {"__module__": __name__}
        )
    return LOOP_CLASSES[connection_class]


def use_loop_sockets(client):
    """Make the connections of redis-py `client` connect through LoopSockets from now on
    (its plain TCP ones, Sentinel's included: a TLS or Unix socket connection stays as it
    is, blocking within redis-py's socket timeout). Its open connections are closed, to be
    made again so. Anything else (fakeredis, a test's stand-in) is left alone."""
    pool = getattr(client, "connection_pool", None)
    made = loop_class(getattr(pool, "connection_class", None))
    if made is None:
        return
    pool.connection_class = made
    pool.reset()  # its connections so far were made blocking
