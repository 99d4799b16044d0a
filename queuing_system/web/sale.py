"""One seat sale shared by every instance of the seat app on a Redis (task 13).

The first instance to start, alone, opens the sale (all the seats, reservations enabled);
one starting beside others (scale-out, a rolling restart) joins it: at start-up, or at its
first request when a WSGI server (flask run, gunicorn) made it. Each instance keeps
itself counted by a beat while it serves, and leaves at shutdown; one killed outright
counts as serving for INSTANCE_TTL seconds more. A lone app restarted opens a new sale.
"""

import atexit
import os
import threading
from secrets import token_hex

from ..connection import RETRYABLE, describe, keep_trying, outage, until_answered
from ..console import warn
from ..lua import Script
from ..shutdown import on_shutdown, on_start
from .redis_speedups import acknowledged

# The instances serving the sale, each with the time its registration runs out.
INSTANCES_KEY = "seat_app:instances"
INSTANCE_TTL = 15  # seconds an instance that stopped beating still counts as serving
BEAT_EVERY = 5  # seconds
RETRY_BEAT_EVERY = 1  # seconds after a beat that failed
# KEYS: instances, seats, enabled flag; ARGV: this instance, its TTL, the seats of a new
# sale. Returns how many other instances are serving (0: a new sale was opened).
JOIN_SALE = Script("""
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local others = redis.call('ZCARD', KEYS[1])
if others == 0 then
  redis.call('SET', KEYS[2], ARGV[3])
  redis.call('SET', KEYS[3], '1')
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return others
""")
# KEYS: instances; ARGV: this instance, its TTL. Server time: app hosts' clocks may differ.
BEAT = Script("redis.call('ZADD', KEYS[1], tonumber(redis.call('TIME')[1]) + tonumber(ARGV[2]), ARGV[1])")
# KEYS: seats, enabled flag, the job's receipt; ARGV: the receipt's TTL. Returns the seats
# left, or -1 when there was none to take (no receipt: a second try takes nothing either,
# unless a new sale has opened since, and then the job has a seat to take).
TAKE_SEAT = Script("""
local answer = redis.call('GET', KEYS[3])
if answer then return tonumber(answer) end
if tonumber(redis.call('GET', KEYS[1]) or '0') <= 0 then return -1 end
answer = redis.call('DECR', KEYS[1])
if answer == 0 then redis.call('SET', KEYS[2], '0') end
redis.call('SET', KEYS[3], answer, 'EX', ARGV[1])
return answer
""")
SEAT_RECEIPT_KEY = "receipt:seat:{job_id}"
SEAT_RECEIPT_TTL = 86_400  # seconds: a seat job may be run again as long as it is kept


class Sale:
    """This instance's part in the sale of `seats` seats counted at `seats_key`, with
    reservations enabled while `enabled_key` is "1", a Flask extension: init_app(app) has
    the app join it as its server starts (serve's on_start), else before its first request,
    and leave it at shutdown. Give it a client of its own, so that a stop never queues
    behind requests. Sale.take_seat is a seat job's one step: it needs no instance."""

    @staticmethod
    def take_seat(connection, seats_key, enabled_key, job_id):
        """Take one of the seats counted at `seats_key` for the job `job_id` (a seat job,
        wherever it runs), atomically and once per job, turning `enabled_key` to "0" as the
        last one goes. Returns the seats left, or -1 if there was none to take. A try again
        after a dropped connection gets the first try's answer (its receipt)."""
        keys = [seats_key, enabled_key, SEAT_RECEIPT_KEY.format(job_id=job_id)]
        tries = []

        def take():  # on the replicas before it counts: a seat a failover lost would be sold again
            tries.append(1)
            return acknowledged(TAKE_SEAT, connection, keys, [SEAT_RECEIPT_TTL], again=len(tries) > 1)

        # Waited for as the worker's steps wait for Redis (the job's own timeout bounds it):
        # given up on, a seat taken with its reply lost would be a job failed with its seat.
        return until_answered(take, within=None)

    def __init__(self, client, seats_key, enabled_key, seats):
        self.client = client
        self.keys = [INSTANCES_KEY, seats_key, enabled_key]
        self.seats = seats
        self.instance = token_hex(8)
        self.stopping = threading.Event()
        self.beat = None
        self.failures = 0  # beats in a row that did not reach Redis
        self.joining = threading.Lock()
        self.joined_in = None  # the pid of the process that joined (a child forked later has not)
        self.left = False

    def init_app(self, app):
        """Serve the sale from the Flask `app` (as app.extensions["sale"]): it joins as its
        server starts (serve), else before its first request, in each process that serves it
        (join_once), and leaves when its server stops. Returns the sale."""
        app.extensions["sale"] = self
        on_start(app, self.join)  # before it listens, waiting for Redis if need be
        app.before_request(self.join_once)
        on_shutdown(app, self.leave)  # no longer counted among the instances serving
        return self

    def join(self):
        """Join the sale; True if this instance opened it. A Redis that cannot answer now
        (away, BUSY, OOM...) is waited for, said on stderr as any outage."""
        return keep_trying(self.join_now, writes=True)

    def join_once(self):
        """Join the sale, once per process, before a request (Flask's before_request): the
        app made by create_app() alone, under any WSGI server (flask run, gunicorn, its
        workers forked after it was made), serves the sale. One try: a Redis error is
        raised for the request to answer (503), and the next request tries again."""
        if self.joined_in != os.getpid():
            self.join_now()

    def join_now(self):
        """One try at joining, if this process has not joined yet (raises Redis's error);
        True if this instance opened the sale."""
        with self.joining:
            if self.joined_in == os.getpid():
                return False
            if self.joined_in is not None:  # forked from the process that joined: one of its own
                self.instance, self.stopping = token_hex(8), threading.Event()
            # On the replicas before it serves: a sale a failover lost would be opened again.
            arguments = [self.instance, INSTANCE_TTL, self.seats]
            others = acknowledged(JOIN_SALE, self.client, self.keys, arguments)
            self.joined_in, self.left = os.getpid(), False
            self.beat = threading.Thread(target=self._beat, name="seat-sale", daemon=True)
            self.beat.start()
            atexit.register(self.leave)  # served by a WSGI server that runs no on_shutdown
            return others == 0

    def _beat(self):
        """Keep this instance counted while it serves. Nothing ends it but leave(): a beat
        that failed (Redis away, BUSY, OOM, a bug of ours) is said and tried again sooner,
        well within INSTANCE_TTL, for as long as the app serves."""
        while not self.stopping.wait(RETRY_BEAT_EVERY if self.failures else BEAT_EVERY):
            try:
                BEAT(self.client, [INSTANCES_KEY], [self.instance, INSTANCE_TTL])
            except Exception as error:  # whatever it was, the beat goes on: only leave() ends it
                self.failures += 1
                if isinstance(error, RETRYABLE):
                    outage.lost(error)  # one line per outage, then reminders
                elif self.failures == 1:  # a refused command, a bug: once per run of failures
                    warn(f"The seat sale's beat failed: {describe(error)}")
            else:
                self.failures = 0
                outage.back()

    def leave(self):
        if self.joined_in != os.getpid() or self.left:
            return  # not joined here, or left already (at shutdown, then at exit)
        self.left = True
        self.stopping.set()
        try:
            self.client.zrem(INSTANCES_KEY, self.instance)
        except RETRYABLE:
            pass  # its registration runs out by itself, INSTANCE_TTL s after its last beat
