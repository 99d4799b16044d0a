#!/usr/bin/env python3
"""Task 13: reserve seats through a job queue, never more than 50.

Taking a seat is one step in Redis (Sale.take_seat, a Lua script: check, decrement, and
block reservations at 0), so any number of workers, /process calls or app processes reserve
exactly 50 seats. `reservationEnabled` lives in Redis, so every app process agrees on it.
"""

import sys
from functools import cache

import redis
from flask import Flask
from rq import Callback, Queue, get_current_job
from rq.serializers import JSONSerializer

import queuing_system as qs

QUEUE = "reserve_seat"
PROCESS = "100_seat.reserve_a_seat"  # the job function, by name: the worker imports it
SEATS_KEY = "available_seats"
ENABLED_KEY = "reservationEnabled"
TOTAL_SEATS = 50


@cache  # made on first use: what a function called as the spec writes it uses
def redis_client():
    return qs.make_client()  # $REDIS_URL's, with the spec's retries and errors


def reserve_seat(number, db=None):
    (db or redis_client()).set(SEATS_KEY, number)


def get_current_available_seats(db=None):
    return (db or redis_client()).get(SEATS_KEY)


def reservation_enabled(db):
    return db.get(ENABLED_KEY) == "1"


def reserve_a_seat():  # the job: take one seat, or fail without taking anything
    job = get_current_job()
    if qs.Sale.take_seat(job.connection, SEATS_KEY, ENABLED_KEY, job.id) < 0:  # one Lua step: never oversold
        raise qs.JobFailed("Not enough seats available")  # Kue's done(new Error(...)): no traceback


def outcome_line(event):  # the line printed as a job ends: Kue's job.on("complete" / "failed")
    return event.line("Seat reservation") if event.kind in ("completed", "failed") else None


def create_app(db=None, jobs=None):
    """The app, on the Redis clients `db` (text) and `jobs` (RQ's, bytes), by default REDIS_URL's,
    as app.extensions["redis"] and ["rq"], with ["listener"] of its jobs and its ["sale"]."""
    app = qs.use_json(Flask(__name__))  # JSON only: errors too, compact, in the spec's key order
    # the sale all instances share, in Redis (a client of its own), a Flask extension: a new sale
    # of 50 seats or the one others serve, joined as the server starts, left as the app stops
    qs.Sale(db or qs.make_client(), SEATS_KEY, ENABLED_KEY, TOTAL_SEATS).init_app(app)
    db = app.extensions["redis"] = redis_client() if db is None else db
    jobs = app.extensions["rq"] = qs.make_client(decode_responses=False) if jobs is None else jobs
    queue = Queue(QUEUE, connection=jobs, serializer=JSONSerializer)
    # Kue's job.on(...) for every job it creates, on one thread, from before the first one,
    # printing each line in one write; made, it waits for Redis, as a script's start does
    listener = app.extensions["listener"] = qs.JobReporter(jobs, QUEUE, outcome_line)
    # RQ's worker, on a thread; it stops with the app, finishing the job in hand
    worker = qs.BackgroundWorker([queue], connection=jobs, job_functions=[PROCESS]).init_app(app)

    @app.get("/available_seats")
    def available_seats():
        return {"numberOfAvailableSeats": get_current_available_seats(db)}

    @app.get("/reserve_seat")
    def reserve():
        if not reservation_enabled(db):
            return {"status": "Reservation are blocked"}
        try:  # Kue's ids, one counter for all queues; one MULTI/EXEC sent once; reply lost: runs if saved
            with qs.save_jobs(queue, 1, unsure_is_saved=True) as ([job_id], pipeline):
                queue.enqueue(
                    PROCESS,
                    job_id=job_id,
                    on_success=Callback(qs.JobReporter.report_success),  # the app hears how the
                    on_failure=Callback(qs.JobReporter.report_failure),  # job ended, as Kue's job.on(...)
                    pipeline=pipeline,
                )
        except redis.RedisError:
            return {"status": "Reservation failed"}
        listener.watch([job_id])
        return {"status": "Reservation in process"}

    @app.get("/process")
    def process():
        worker.start()  # once: later calls find it running
        return {"status": "Queue processing"}

    return app


def main(argv=None):
    # Flask's app.run(), on our HTTP server (flow control, deadlines): reads --host and --port
    # (over $HOST, $PORT), makes the app, joins its sale before it listens (waiting for Redis);
    # exits 0 on SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us: never a traceback
    return qs.serve(create_app, argv, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
