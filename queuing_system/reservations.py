"""The apps' check-and-take steps, each one Lua script: Redis runs it whole, so two
requests (threads, processes, app instances) never take the same unit.

The original read the stock, then wrote it back minus one: two requests at once both saw
the same stock and both were confirmed. Each step also keeps its answer under a receipt
key: tried again after a dropped connection (redis-py's retry, or ours), it gets the first
answer instead of taking a second unit.
"""

from secrets import token_hex

from .connection import until_answered
from .redis_speedups import LuaScript

# KEYS: the stock key, the request's receipt; ARGV: the initial quantity, the receipt's TTL.
# Returns the stock left, or -1.
RESERVE_ONE = LuaScript("""
local answer = redis.call('GET', KEYS[2])
if answer then return tonumber(answer) end
local stock = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
answer = -1
if stock > 0 then
  answer = stock - 1
  redis.call('SET', KEYS[1], answer)
end
redis.call('SET', KEYS[2], answer, 'EX', ARGV[2])
return answer
""")
RECEIPT_KEY = "receipt:{token}"
RECEIPT_TTL = 60  # seconds: a reservation's retries come within it

# KEYS: seats, enabled flag, the job's receipt; ARGV: the receipt's TTL. Returns the seats
# left, or -1 when there was none to take.
TAKE_SEAT = LuaScript("""
local answer = redis.call('GET', KEYS[3])
if answer then return tonumber(answer) end
answer = -1
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  answer = redis.call('DECR', KEYS[1])
  if answer == 0 then redis.call('SET', KEYS[2], '0') end
end
redis.call('SET', KEYS[3], answer, 'EX', ARGV[1])
return answer
""")
SEAT_RECEIPT_KEY = "receipt:seat:{job_id}"
SEAT_RECEIPT_TTL = 86_400  # seconds: a seat job may be run again as long as it is kept


def take_one(db, stock_key, initial):
    """Take one unit of the stock kept at `stock_key` (`initial` units while the key does
    not exist yet), atomically and once. Returns the units left, or -1 if none was left."""
    keys = [stock_key, RECEIPT_KEY.format(token=token_hex(8))]
    return until_answered(lambda: RESERVE_ONE(db, keys, [initial, RECEIPT_TTL]))


def take_seat(connection, seats_key, enabled_key, job_id):
    """Take one of the seats counted at `seats_key` for the job `job_id`, atomically and
    once per job, turning `enabled_key` to "0" as the last one goes. Returns the seats
    left, or -1 if there was none to take."""
    keys = [seats_key, enabled_key, SEAT_RECEIPT_KEY.format(job_id=job_id)]
    return until_answered(lambda: TAKE_SEAT(connection, keys, [SEAT_RECEIPT_TTL]))
