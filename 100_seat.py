#!/usr/bin/env python3
"""Task 13: reserve seats through a job queue, never more than 50.

Taking a seat is one Lua script (check, decrement, and block reservations at 0), so any
number of workers, /process calls or app processes reserve exactly 50 seats.
`reservationEnabled` lives in Redis, so every app process agrees on it.
"""

import threading
from secrets import token_hex

import redis
from rq import get_current_job

from queuing_system.connection import (
    RETRYABLE,
    make_client,
    make_jobs_client,
    outage,
    until_answered,
    wait_until_connected,
)
from queuing_system.console import say
from queuing_system.events import COMPLETED, FAILED
from queuing_system.jobs import JobFailed, create_job, job_queue
from queuing_system.redis_speedups import LuaScript
from queuing_system.reporter import JobReporter, event_line
from queuing_system.shutdown import run
from queuing_system.web import create_json_app, on_shutdown, serve
from queuing_system.workers import WorkerThread

QUEUE = "reserve_seat"
PROCESS = "100_seat.take_seat"
SEATS_KEY = "available_seats"
ENABLED_KEY = "reservationEnabled"
TOTAL_SEATS = 50

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
# A job's answer is kept under its receipt: the job tried again (after a dropped
# connection, or run twice) gets it instead of taking a second seat.
RECEIPT_KEY = "receipt:seat:{job_id}"
RECEIPT_TTL = 86_400  # seconds

# The instances serving this sale, each with the time its registration runs out: the
# first to start (alone) opens the sale with 50 seats; one starting beside it joins.
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

# REDIS_URL's, connecting on first use: the defaults of everything below. RQ's jobs are
# bytes, so their connection does not decode.
client = make_client()
jobs_connection = make_jobs_client()


def reserve_seat(number, db=client):
    db.set(SEATS_KEY, number)


def get_current_available_seats(db=client):
    return db.get(SEATS_KEY)


def set_reservation_enabled(enabled, db=client):
    db.set(ENABLED_KEY, "1" if enabled else "0")


def reservation_enabled(db=client):
    return db.get(ENABLED_KEY) == "1"


def take_seat(data=None):
    """The job: take one seat, or fail without taking anything."""
    job = get_current_job()
    keys = [SEATS_KEY, ENABLED_KEY, RECEIPT_KEY.format(job_id=job.id)]
    if until_answered(lambda: TAKE_SEAT(job.connection, keys, [RECEIPT_TTL])) < 0:
        raise JobFailed("Not enough seats available")


def print_outcome(event):
    if event.kind in (COMPLETED, FAILED):
        say(event_line("Seat reservation", event))


class Sale:
    """This instance's part in the sale: at start-up it joins the sale, opening it (50 seats,
    reservations enabled) only if no other instance is serving it; a beat keeps it counted
    while it serves; it leaves at shutdown. A lone app restarted so opens a new sale; a
    second instance (scale-out, a rolling restart) joins the running one."""

    def __init__(self, client):
        self.client = client
        self.instance = token_hex(8)
        self.stopping = threading.Event()
        self.beat = threading.Thread(target=self._beat, name="seat-sale", daemon=True)

    def join(self):
        """Join the sale; True if this instance opened it."""
        keys = [INSTANCES_KEY, SEATS_KEY, ENABLED_KEY]
        others = JOIN_SALE(self.client, keys, [self.instance, INSTANCE_TTL, TOTAL_SEATS])
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


class Processing:
    """The background worker that /process starts, once per app process."""

    def __init__(self, jobs):
        self.jobs = jobs
        self.lock = threading.Lock()
        self.worker = None

    def start(self):
        with self.lock:
            if self.worker is None:
                self.worker = WorkerThread({QUEUE: PROCESS}, self.jobs)
                self.worker.start()

    def stop(self):
        with self.lock:
            if self.worker is not None:
                self.worker.stop()


def create_app(db=client, jobs=jobs_connection):
    """The app, on the Redis clients `db` (decoding) and `jobs` (RQ's, bytes), kept as
    app.extensions["redis"] and ["rq"], beside the reporter of its jobs (["reporter"]).
    Opening the sale is main()'s start-up step, not this factory's: it writes nothing to
    Redis until a request asks it to."""
    app = create_json_app(__name__)
    app.extensions["redis"] = db
    app.extensions["rq"] = jobs
    queue = job_queue(QUEUE, jobs)
    reporter = JobReporter(jobs, QUEUE, print_outcome)  # before any job: none missed
    app.extensions["reporter"] = reporter
    processing = Processing(jobs)
    on_shutdown(app, processing.stop)

    @app.get("/available_seats")
    def available_seats():
        return {"numberOfAvailableSeats": get_current_available_seats(app.extensions["redis"])}

    @app.get("/reserve_seat")
    def reserve():
        if not reservation_enabled(app.extensions["redis"]):
            return {"status": "Reservation are blocked"}
        try:
            job = create_job(queue, PROCESS, {})
        except redis.RedisError:
            return {"status": "Reservation failed"}
        reporter.watch([job.id])
        return {"status": "Reservation in process"}

    @app.get("/process")
    def process():
        processing.start()
        return {"status": "Queue processing"}

    return app


def main():
    wait_until_connected(client, quiet=True)
    sale = Sale(make_client())  # its own connection: a stop never queues behind requests
    sale.join()  # the start-up step: a new sale, or the one other instances serve
    app = create_app()
    on_shutdown(app, sale.leave)
    return serve(app)


if __name__ == "__main__":
    run(main)
