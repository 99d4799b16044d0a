"""Requests answered at once share their round trips to Redis, as Node's do.

A server process answers each request with its own Redis command and, on one connection,
waited for each reply in turn: with 16 clients on a process, the last of those whose
requests came together waited 16 round trips, and each round trip cost two system calls.
Here each connection's requests are answered in a greenlet of its own. A command of the
app waits there, unsent, while the event loop reads the other requests that came; then
one write sends the commands of all, and their replies come back together (`send`).

Only the commands of a client made by connection.own_connection wait (see
redis_speedups.OwnConnectionClient), and only in a request's greenlet: everything else
is sent at once, as before.
"""

import asyncio

import greenlet

from .console import warn

IDLE_KEPT = 64  # greenlets kept for the next requests once theirs are answered


class Answering(greenlet.greenlet):
    """A greenlet answering requests: its Redis commands wait for `round_trips`."""

    round_trips = None


class RoundTrips:
    """The waiting commands of the requests of one event loop, sent together once a turn."""

    def __init__(self):
        self.hub = greenlet.getcurrent()  # the loop's: answering greenlets return to it
        self.waiting = []  # (greenlet, client, packed command), in the order they came
        self.sending = False  # blocked on Redis for the requests: as if in the app
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
        while True:
            try:
                function()
            except Exception as error:  # not the app's (it is answered with a 500): ours
                warn(f"answering a request failed: {error!r}")
            if len(self.idle) >= IDLE_KEPT:
                return
            self.idle.append(greenlet.getcurrent())
            function = self.hub.switch()  # until `start` gives it the next

    def wait(self, client, command):
        """The reply to the packed `command` on `client`'s connection (an
        OwnConnectionClient), sent with the others' this turn of the loop: the reply, an
        exception to raise (a ResponseError), or redis_speedups.DROPPED."""
        self.waiting.append((greenlet.getcurrent(), client, command))
        if len(self.waiting) == 1:
            asyncio.get_running_loop().call_soon(self.send)
        return self.hub.switch()

    def send(self):
        waiting, self.waiting = self.waiting, []
        commands = {}
        for _, client, command in waiting:
            commands.setdefault(client, []).append(command)
        self.sending = True
        try:
            replies = {client: iter(self.send_all(client, each)) for client, each in commands.items()}
        finally:
            self.sending = False
        for answering, client, _ in waiting:
            answering.switch(next(replies[client]))

    @staticmethod
    def send_all(client, commands):
        try:
            return client.send_all(commands)
        except Exception as error:  # a bug of ours: each request answers it (with a 500)
            return [error] * len(commands)

    def close(self):
        """The server stops: requests whose commands were not sent end here, unanswered,
        and so do the idle greenlets."""
        waiting, self.waiting = self.waiting, []
        idle, self.idle = self.idle, []
        for answering in [each for each, _, _ in waiting] + idle:
            answering.throw()  # GreenletExit: ends it quietly
