"""Task 13 with Flask's own server (app.run); the queue worked off by an RQ worker on a
thread the first GET /process starts (a second one starts nothing more)."""

import os
import threading

from flask import Flask, jsonify
from redis import Redis
from rq import Callback, Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

url = os.environ.get("REDIS_URL", "redis://localhost:6379")
db = Redis.from_url(url, decode_responses=True)
queue = Queue("reserve_seat", connection=Redis.from_url(url))
app = Flask(__name__)
started = threading.Lock()


class ThreadWorker(SimpleWorker):
    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass


def reserve_seat(number):
    db.set("available_seats", number)


def get_current_available_seats():
    return db.get("available_seats")


TAKE_SEAT = db.register_script(
    """
    local seats = tonumber(redis.call('GET', KEYS[1]) or '0')
    if seats <= 0 then return -1 end
    redis.call('SET', KEYS[1], seats - 1)
    if seats - 1 == 0 then redis.call('SET', KEYS[2], 'false') end
    return seats - 1
    """
)


def take_seat():
    if TAKE_SEAT(keys=["available_seats", "reservation_enabled"]) < 0:
        raise Exception("Not enough seats available")


def seat_completed(job, connection, result, *args, **kwargs):
    print(f"Seat reservation job {job.id} completed", flush=True)


def seat_failed(job, connection, type, value, traceback):
    print(f"Seat reservation job {job.id} failed: {value}", flush=True)


@app.get("/available_seats")
def available_seats():
    return jsonify(numberOfAvailableSeats=get_current_available_seats())


@app.get("/reserve_seat")
def reserve():
    if db.get("reservation_enabled") == "false":
        return jsonify(status="Reservation are blocked")
    try:
        queue.enqueue(
            "100_seat.take_seat",
            on_success=Callback("100_seat.seat_completed"),
            on_failure=Callback("100_seat.seat_failed"),
        )
    except Exception:
        return jsonify(status="Reservation failed")
    return jsonify(status="Reservation in process")


@app.get("/process")
def process():
    if started.acquire(blocking=False):
        worker = ThreadWorker([queue], connection=queue.connection)
        threading.Thread(target=worker.work, kwargs={"logging_level": "WARNING"}, daemon=True).start()
    return jsonify(status="Queue processing")


if __name__ == "__main__":
    reserve_seat(50)
    db.set("reservation_enabled", "true")
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", 1245)))
