"""Task 13 that never blocks reservations: at 0 seats, GET /reserve_seat still queues a job."""

import os
import threading

from flask import Flask, jsonify
from redis import Redis
from rq import Callback, Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

url = os.environ.get("REDIS_URL", "redis://localhost:6379")
db = Redis.from_url(url, decode_responses=True)
connection = Redis.from_url(url)
queue = Queue("reserve_seat", connection=connection)
app = Flask(__name__)


class AppWorker(SimpleWorker):
    """A worker on a thread of the app: the signals are the main thread's."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass


def reserve_seat(number):
    db.set("available_seats", number)


def get_current_available_seats():
    return db.get("available_seats")


def take_seat():
    """The job (RQ imports it from 100_seat, a module apart from the app's __main__: the
    state both share lives in Redis)."""
    seats = int(get_current_available_seats())
    if seats <= 0:
        raise Exception("Not enough seats available")
    reserve_seat(seats - 1)


def seat_completed(job, connection, result, *args, **kwargs):
    print(f"Seat reservation job {job.id} completed")


def seat_failed(job, connection, type, value, traceback):
    print(f"Seat reservation job {job.id} failed: {value}")


@app.route("/available_seats")
def available_seats():
    return jsonify({"numberOfAvailableSeats": get_current_available_seats()})


@app.route("/reserve_seat")
def reserve():
    if db.get("reservation_enabled") == "false":
        return jsonify({"status": "Reservation are blocked"})
    try:
        queue.enqueue(
            "100_seat.take_seat",
            on_success=Callback("100_seat.seat_completed"),
            on_failure=Callback("100_seat.seat_failed"),
        )
    except Exception:
        return jsonify({"status": "Reservation failed"})
    return jsonify({"status": "Reservation in process"})


@app.route("/process")
def process():
    worker = AppWorker([queue], connection=connection)
    threading.Thread(target=worker.work, daemon=True).start()
    return jsonify({"status": "Queue processing"})


if __name__ == "__main__":
    reserve_seat(50)
    db.set("reservation_enabled", "true")
    app.run(port=int(os.environ.get("PORT", 1245)))
