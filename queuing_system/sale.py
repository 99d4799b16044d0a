"""One seat sale shared by every instance of the seat app on a Redis (task 13).

The first instance to start, alone, opens the sale (all the seats, reservations enabled);
one starting beside others (scale-out, a rolling restart) joins it. Each instance keeps
itself counted by a beat while it serves, and leaves at shutdown; one killed outright
counts as serving for INSTANCE_TTL seconds more. A lone app restarted opens a new sale.
"""

import threading
from secrets import token_hex

from .connection import RETRYABLE, outage
from .redis_speedups import LuaScript

# The instances serving the sale, each with the time its registration runs out.
INSTANCES_KEY = "seat_app:instances"
INSTANCE_TTL = 15  # seconds an instance that stopped beating still counts as serving
BEAT_EVERY = 5  # seconds
# KEYS: instances, seats, enabled flag; ARGV: this instance, its TTL, the seats of a new
# sale. Returns how many other instances are serving (0: a new sale was opened).
JOIN_SALE = LuaScript("""
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
BEAT = LuaScript("redis.call('ZADD', KEYS[1], tonumber(redis.call('TIME')[1]) + tonumber(ARGV[2]), ARGV[1])")


class Sale:
    """This instance's part in the sale of `seats` seats counted at `seats_key`, with
    reservations enabled while `enabled_key` is "1". join() at start-up, leave() at
    shutdown; give it a client of its own, so that a stop never queues behind requests."""

    def __init__(self, client, seats_key, enabled_key, seats):
        self.client = client
        self.keys = [INSTANCES_KEY, seats_key, enabled_key]
        self.seats = seats
        self.instance = token_hex(8)
        self.stopping = threading.Event()
        self.beat = threading.Thread(target=self._beat, name="seat-sale", daemon=True)

    def join(self):
        """Join the sale; True if this instance opened it."""
        others = JOIN_SALE(self.client, self.keys, [self.instance, INSTANCE_TTL, self.seats])
        self.beat.start()
        return others == 0

    def _beat(self):
        while not self.stopping.wait(BEAT_EVERY):
            try:
                BEAT(self.client, [INSTANCES_KEY], [self.instance, INSTANCE_TTL])
            except RETRYABLE as error:
                outage.lost(error)

    def leave(self):
        self.stopping.set()
        try:
            self.client.zrem(INSTANCES_KEY, self.instance)
        except RETRYABLE:
            pass  # its registration runs out by itself
