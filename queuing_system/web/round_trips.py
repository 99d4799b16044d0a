"""Requests answered at once share their round trips to Redis, as Node's do.

A server process answers each request with its own Redis command and, on one connection,
waited for each reply in turn: with 16 clients on a process, the last of those whose
requests came together waited 16 round trips, and each round trip cost two system calls.
Here each connection's requests are answered in a greenlet of its own. A command of the
app waits there, unsent, while the event loop reads the other requests that came; then
one write sends the commands of all, and their replies come back together.

That write and the reading of the replies are done by a sender greenlet, one batch at a
time: while Redis works on one batch, the commands that come meanwhile gather for the
next, and the event loop goes on serving (a request that needs no Redis is never held by
one that does; see greenlet_io.py for how the sender's socket waits). Each command is
answered by its request's deadline (greenlet_io.REDIS_WAIT): a command still unsent then
is never sent, one sent is answered TimeoutError (a 503), and its late reply dropped.

Only the commands of a client made by connection.own_connection wait (see
redis_speedups.OwnConnectionClient), and only in a request's greenlet: everything else
is sent at once.
"""

import time

import greenlet
import redis

from ..connection import current_request
from ..console import warn
from ..replication import NO_TAIL, NotReplicated, replicas_of
from . import greenlet_io
from .greenlet_io import LATE
from .redis_speedups import DROPPED

IDLE_KEPT = 64  # greenlets kept for the next requests once theirs are answered
DEADLINE_TICK = 0.25  # seconds: how often deadlines are looked at, while anything waits
# A command whose connection dropped before its reply (a killed connection, a Redis
# restarted) is sent again on a new one this many times, as redis-py's retry would; the
# reservation scripts keep their answer under a receipt, so a second try does not take
# a second unit.
RESENDS = 2


class Answering(greenlet.greenlet):
    """A greenlet answering requests: its Redis commands wait for `round_trips`, until
    `deadline` (time.monotonic(); None: no limit). It is its own connection.current_request."""

    round_trips = None
    deadline = None
    heard_redis = False  # its request had a reply from Redis (see app.py's outage news)

    def may_wait(self, seconds):
        """Whether a try of its Redis command after `seconds` still comes before its deadline."""
        left = greenlet_io.time_left()
        return left is None or left > seconds

    def sleep(self, seconds):
        """Wait `seconds` while the event loop answers the other requests."""
        greenlet_io.sleep(seconds)


class Waiting:
    """A request's command, waiting for its turn and its reply."""

    __slots__ = ("answering", "client", "command", "acknowledged", "again", "deadline", "answered", "sent")

    def __init__(self, answering, client, command, acknowledged=False, again=False):
        self.answering, self.client, self.command = answering, client, command
        self.acknowledged = acknowledged  # answered once the replicas have it (replication.py)
        self.again = again  # a try after an earlier one
        self.deadline = answering.deadline
        self.answered = False
        self.sent = 0  # times it went out

    def late(self, now=None):
        """Its request's deadline has passed."""
        return self.deadline is not None and (now or time.monotonic()) >= self.deadline


def too_late():
    return redis.TimeoutError("Redis did not answer within the request's time")


class RoundTrips:
    """The waiting commands of the requests of one event loop, sent together, a batch at
    a time, by a sender greenlet."""

    def __init__(self):
        self.hub = greenlet.getcurrent()  # the loop's: answering greenlets return to it
        self.loop = None  # the event loop, once it is made
        self.waiting = []  # Waiting, in the order they came
        self.in_flight = []  # the batch the sender is sending
        self.sender = None  # the greenlet sending batches (kept, idle, between them)
        self.sending = False  # it is sending a batch
        self.parked = {}  # greenlets waiting on a socket or a timer (greenlet_io): their deadline
        self.ticking = False  # a tick is due (see tick)
        # Greenlets in the middle of answering: held here, so that one waiting is never
        # garbage collected mid-request (its unwinding would run the app's code from the
        # collector, outside its context: the suspected cause of a LookupError of Flask's, seen once).
        self.busy = set()
        # Greenlets that answered and wait for more: a new one costs Python a 16 KB stack
        # of its own, mapped and unmapped by the kernel, each time.
        self.idle = []

    def start(self, function):
        """Run `function()` in a greenlet of its own, until it ends or waits for Redis."""
        answering = self.idle.pop() if self.idle else Answering(self.answer_each, parent=self.hub)
        answering.round_trips = self
        answering.switch(function)

    def answer_each(self, function):
        """An answering greenlet's life: each function given it by `start`, in turn."""
        current = greenlet.getcurrent()
        current_request.set(current)  # in this greenlet's own context, for all it answers
        while True:
            self.busy.add(current)
            try:
                function()
            except Exception as error:  # not the app's (it is answered with a 500): ours
                warn(f"answering a request failed: {error!r}")
            finally:
                self.busy.discard(current)
            current.deadline, current.heard_redis = None, False
            if len(self.idle) >= IDLE_KEPT:
                return
            self.idle.append(current)
            function = self.hub.switch()  # until `start` gives it the next

    def park(self, answering, deadline=None):
        """In `answering`: let the event loop run until something switches back to it
        (greenlet_io's waits), or until `deadline` (time.monotonic(); then it is switched
        back greenlet_io.LATE, within DEADLINE_TICK); what it was switched with."""
        self.parked[answering] = deadline
        if deadline is not None:
            self.keep_ticking()
        try:
            return self.hub.switch()
        finally:
            self.parked.pop(answering, None)

    def wait(self, client, command, acknowledged=False, again=False):
        """The reply to the packed `command` on `client`'s connection (an
        OwnConnectionClient), sent with the others' this turn of the loop: the reply, or an
        exception to raise (a ResponseError; a TimeoutError past the request's deadline;
        a ConnectionError where the connection kept dropping; NotReplicated where the
        command is `acknowledged` only once the replicas have it, and they did not;
        `again`: it is a try after an earlier one, see replication.py)."""
        answering = greenlet.getcurrent()
        if answering.deadline is not None and time.monotonic() >= answering.deadline:
            return too_late()  # never sent: it cannot be done for a client told 503
        self.waiting.append(Waiting(answering, client, command, acknowledged, again))
        if not self.sending and len(self.waiting) == 1:
            self.loop.call_soon(self.send)
        if answering.deadline is not None:
            self.keep_ticking()
        return self.hub.switch()

    def send(self):
        """A loop callback: set the sender going, unless it is sending or nothing waits."""
        if self.sending or not self.waiting:
            return
        if self.sender is None or self.sender.dead:
            self.sender = Answering(self.send_batches, parent=self.hub)
            self.sender.round_trips = self
        self.sender.switch()

    def send_batches(self):
        """The sender's life: the waiting commands, a batch at a time, each client's in
        one write, their replies handed to their requests from the event loop; then it
        waits, idle, for `send` (a new greenlet each time cost a 16 KB stack)."""
        current_request.set(self.sender)  # its socket waits as a request's do, by its deadline
        while True:
            self.sending = True
            try:
                while self.waiting:
                    batch, self.waiting = self.waiting, []
                    self.in_flight = [each for each in batch if not each.answered]
                    deadlines = [each.deadline for each in self.in_flight]
                    self.sender.deadline = None if None in deadlines else max(deadlines, default=None)
                    replies = self.replies(self.in_flight)
                    self.in_flight = []
                    self.loop.call_soon(self.deliver, replies)
            finally:
                self.sending = False
            self.hub.switch()

    def replies(self, batch):
        """[(Waiting, its reply)] of a batch, each client's commands sent in one write. A
        command whose connection dropped goes again with the next batch (RESENDS times)."""
        by_client = {}
        for each in batch:
            each.sent += 1
            by_client.setdefault(each.client, []).append(each)
        replies = []
        for client, each in by_client.items():
            replies += zip(each, self.client_replies(client, each), strict=True)
        again = [each for each, reply in replies if reply is DROPPED and self.may_resend(each)]
        self.waiting[:0] = again
        return [(each, reply) for each, reply in replies if each not in again]

    def client_replies(self, client, each):
        """The replies of one client's commands `each`, in one write; where one of them is
        answered only once the primary's replicas have it, the WAIT for them goes after the
        last (replication.py), and those commands' replies are its shortfall, if any."""
        commands = [one.command for one in each]
        acknowledged = any(one.acknowledged for one in each)
        replicas = replicas_of(client.connection) if acknowledged and client.connection else None
        try:
            tail = NO_TAIL if replicas is None else replicas.tail(any(one.again for one in each))
        except NotReplicated as replaced:  # a failover replacing the primary: tried again, not sent
            others = [one for one in each if not one.acknowledged]
            sent = iter(self.send_all(client, [one.command for one in others]) if others else [])
            return [replaced if one.acknowledged else next(sent) for one in each]
        replies = self.send_all(client, commands + self.packed(client, tail))
        count = len(commands)
        if all(isinstance(reply, Exception) for reply in replies[:count]):
            return replies[:count]  # refused (NOSCRIPT...): each error is its answer, not the WAIT's
        while tail.commands or tail.primary is not None:
            try:
                if any(reply is DROPPED for reply in replies[count:]):
                    shortfall = DROPPED  # the WAIT's answer lost: as if theirs was
                elif replicas.check(tail, replies[count:], client.connection):
                    break
                else:  # a ROLE sent with them listed replicas: wait for those too
                    tail = replicas.tail(again=True)
                    replies = replies[:count] + self.send_all(client, self.packed(client, tail))
                    continue
            except (redis.ConnectionError, redis.ResponseError) as error:  # NotReplicated, ReplicaError
                shortfall = error
            return [
                shortfall if one.acknowledged and not isinstance(reply, Exception) else reply
                for one, reply in zip(each, replies, strict=False)
            ]
        return replies[:count]

    @staticmethod
    def packed(client, tail):
        return [client.connection.pack_command(*command) for command in tail.commands]

    @staticmethod
    def may_resend(each):
        return each.sent <= RESENDS and not each.answered and not each.late()

    @staticmethod
    def send_all(client, commands):
        try:
            return client.send_all(commands)
        except Exception as error:  # a bug of ours: each request answers it (with a 500)
            return [error] * len(commands)

    def deliver(self, replies):
        """A loop callback: each reply to its request, unless it was answered already."""
        for each, reply in replies:
            if reply is DROPPED:
                reply = (
                    too_late()
                    if each.late()
                    else redis.ConnectionError("the connection to Redis kept dropping")
                )
            elif not isinstance(reply, Exception):
                each.answering.heard_redis = True
            self.answer(each, reply)

    def answer(self, each, reply):
        if not each.answered:
            each.answered = True
            each.answering.switch(reply)

    def keep_ticking(self):
        if not self.ticking:
            self.ticking = True
            self.loop.call_later(DEADLINE_TICK, self.tick)

    def tick(self):
        """Every DEADLINE_TICK while anything waits: commands past their request's
        deadline are answered TimeoutError now (those still waiting never sent), and
        greenlets parked past theirs are woken (greenlet_io.LATE). One timer for all: a
        timer per command, made and cancelled each time, cost more than the command."""
        self.ticking = False
        now = time.monotonic()
        late = [each for each in self.waiting + self.in_flight if each.late(now)]
        if late:
            self.waiting = [each for each in self.waiting if each not in late]
            for each in late:
                self.answer(each, too_late())
        overdue = [
            answering
            for answering, deadline in self.parked.items()
            if deadline is not None and deadline <= now
        ]
        for answering in overdue:
            if self.parked.pop(answering, None) is not None:
                answering.switch(LATE)
        if self.waiting or self.in_flight or any(deadline is not None for deadline in self.parked.values()):
            self.keep_ticking()

    def cancel(self, answering):
        """The client of `answering`'s request is gone: its command, if still unsent, is
        never sent (a reservation for nobody); the request ends with ConnectionAbortedError."""
        for each in [each for each in self.waiting if each.answering is answering]:
            self.waiting.remove(each)
            self.answer(each, ConnectionAbortedError("the client is gone"))

    def close(self):
        """The server stops: requests whose commands were not answered end here,
        unanswered, and so do the idle, parked and busy greenlets."""
        waiting = self.waiting + self.in_flight
        self.waiting, self.in_flight = [], []
        idle, self.idle = self.idle, []
        parked, self.parked = list(self.parked) + list(self.busy), {}
        ending = [each.answering for each in waiting if not each.answered] + idle + parked
        if self.sender is not None:
            ending.append(self.sender)
        for answering in ending:
            if not answering.dead:
                answering.throw()  # GreenletExit: ends it quietly
