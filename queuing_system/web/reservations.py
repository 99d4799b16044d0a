"""The stock app's check-and-take step, one Lua script: Redis runs it whole, so two
requests (threads, processes, app instances) never take the same unit. (The seat app's is
the sale's: sale.py.)

The original read the stock, then wrote it back minus one: two requests at once both saw
the same stock and both were confirmed. Each step also keeps its answer under a receipt
key: tried again after a dropped connection (redis-py's retry, or ours), it gets the first
answer instead of taking a second unit.
"""

import time
from secrets import token_hex

import redis

from ..connection import RETRYABLE, until_answered
from ..lua import Script
from . import greenlet_io
from .redis_speedups import acknowledged, send_acknowledged

# KEYS: the stock key, the request's receipt; ARGV: the initial quantity, the receipt's
# TTL, the request's deadline (Unix seconds by Redis's clock, 0: none). Returns the stock
# left, -1 if there was none (no receipt kept: trying again gets -1 again), or -2 if run
# past the deadline (nothing done: its request was answered 503 meanwhile).
RESERVE_ONE = Script("""
local answer = redis.call('GET', KEYS[2])
if answer then return tonumber(answer) end
local deadline = tonumber(ARGV[3] or '0')
if deadline > 0 then
  local now = redis.call('TIME')
  if tonumber(now[1]) + tonumber(now[2]) / 1000000 > deadline then return -2 end
end
local stock = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if stock <= 0 then return -1 end
redis.call('SET', KEYS[1], stock - 1)
redis.call('SET', KEYS[2], stock - 1, 'EX', ARGV[2])
return stock - 1
""")
RECEIPT_KEY = "receipt:{token}"
# Seconds a confirmed reservation's receipt is kept: its retries all come within its
# request's time (greenlet_io.REDIS_WAIT, 2 s; connection.ANSWER_WITHIN, 3 s, outside
# a request). Receipts are kept for confirmed units only: at most what is sold in that
# time, whatever refused requests come.
RECEIPT_TTL = 10
LATE = -2
# Seconds past its deadline a reservation whose tries all failed may wait for Redis to
# tell whether one was done (its receipt): so that a 503 always means nothing was taken.
SETTLE_WITHIN = 0.5


def take_one(db, stock_key, initial):
    """Take one unit of the stock kept at `stock_key` (`initial` units while the key does
    not exist yet), atomically and once. Returns the units left, or -1 if none was left.

    In an app's request, an error (redis.TimeoutError past the request's deadline) means
    that no unit was taken: Redis refuses a try it runs later than the deadline less
    LATE_MARGIN, and a request whose tries all failed (a try may have been done, its
    reply lost) looks for its receipt once no try can still be done (see settle)."""
    keys = [stock_key, RECEIPT_KEY.format(token=token_hex(8))]
    deadline = greenlet_io.wall_deadline()  # None outside a request

    tries = []

    def reserve():
        tries.append(1)  # a try after the first may be answered by the receipt, writing nothing
        deadline_arg = 0 if deadline is None else f"{deadline:.6f}"
        return acknowledged(RESERVE_ONE, db, keys, [initial, RECEIPT_TTL, deadline_arg], again=len(tries) > 1)

    try:  # no try later than LATE_MARGIN before the deadline: Redis would refuse it
        answer = until_answered(reserve, margin=greenlet_io.LATE_MARGIN)
    except RETRYABLE:
        answer = None if deadline is None else settle(db, keys[1], deadline)
        if answer is None:
            raise
    if answer == LATE:  # the receipt comes first: a late try that finds one returns it
        raise redis.TimeoutError("Redis ran the reservation after its request's time: nothing was taken")
    return answer


def settle(db, receipt_key, deadline):
    """The answer a reservation's receipt keeps, read once `deadline` (Unix time) has
    passed, when no try of it can be done any more; None if there is none (nothing was
    taken) or Redis did not tell within SETTLE_WITHIN seconds more. The read is tried
    again up to the request's (extended) deadline itself, not LATE_MARGIN before it as a
    reservation is: a unit taken whose receipt goes unread is answered 503."""
    greenlet_io.extend_deadline(SETTLE_WITHIN)
    greenlet_io.sleep(max(deadline - time.time(), 0))
    try:  # found, and on the replicas: a receipt a failover would lose confirms nothing
        kept = until_answered(lambda: send_acknowledged(db, ("GET", receipt_key), again=True))
    except RETRYABLE:
        return None
    return None if kept is None else int(kept)
