"""Load on the apps, across two app processes each: nothing oversold, no 5xx."""

import subprocess

import redis

from queuing_system.grader.expected import (
    RESERVATION_BLOCKED,
    RESERVATION_IN_PROCESS,
    available_seats,
    not_enough_stock,
    reservation_confirmed,
    seat_completed,
    seat_failed,
)
from queuing_system.grader.harness import get_many, http_get, rq_worker_command, script_env, scripts_dir

ROOT = scripts_dir()  # the checkout: conftest.py points the harness at it

STOCK = {1: 4, 2: 10, 3: 2, 4: 5}


def test_20000_requests_from_64_clients_on_two_stock_apps(redis_url, start_app):
    bases = [start_app("9_stock.py", redis_url)[1] for _ in range(2)]
    paths = ["/list_products", "/list_products/2"] + [f"/reserve_product/{i}" for i in STOCK]
    urls = [base + path for base in bases for path in paths]
    answers = get_many(urls, 20_000)
    others = [(url, status, body) for url, (status, _type, body) in answers if status != 200]
    assert others == [], f"{len(others)} answers not 200, the first: {others[:3]}"
    client = redis.Redis.from_url(redis_url)
    for item, stock in STOCK.items():
        bodies = [body for url, (_s, _t, body) in answers if url.endswith(f"/reserve_product/{item}")]
        assert bodies.count(reservation_confirmed(item)) == stock
        assert bodies.count(not_enough_stock(item)) == len(bodies) - stock
        assert client.get(f"item.{item}") == b"0"


def test_1000_seat_reservations_on_two_apps_with_four_extra_workers(redis_url, start_app):
    (first, base1), (second, base2) = start_app("100_seat.py", redis_url), start_app("100_seat.py", redis_url)
    client = redis.Redis.from_url(redis_url)
    workers = [
        subprocess.Popen(
            rq_worker_command(redis_url, "reserve_seat"),
            cwd=ROOT,
            env=script_env(redis_url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(4)
    ]
    lowest = [50]

    def watch_seats():
        lowest[0] = min(lowest[0], int(client.get("available_seats")))
        return False

    try:
        assert http_get(base1 + "/process")[0] == http_get(base2 + "/process")[0] == 200
        answers = get_many([base1 + "/reserve_seat", base2 + "/reserve_seat"], 1000)
        queued = {
            base: sum(
                1
                for url, (_s, _t, body) in answers
                if url.startswith(base) and body == RESERVATION_IN_PROCESS
            )
            for base in (base1, base2)
        }
        assert all(body in (RESERVATION_IN_PROCESS, RESERVATION_BLOCKED) for _u, (_s, _t, body) in answers)
        lines = []
        for app, base in ((first, base1), (second, base2)):
            for _ in range(queued[base]):
                lines.append(app.next_line())
                watch_seats()
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(30)
    completed = [line for line in lines if line.endswith(" completed")]
    failed = [line for line in lines if line.endswith("failed: Not enough seats available")]
    assert len(completed) == 50
    assert len(completed) + len(failed) == len(lines) == sum(queued.values())
    ids = [int(line.split()[3]) for line in lines]
    assert len(set(ids)) == len(ids)
    assert all(
        line in (seat_completed(job_id), seat_failed(job_id)) for line, job_id in zip(lines, ids, strict=True)
    )
    assert lowest[0] >= 0
    assert http_get(base1 + "/available_seats")[2] == available_seats(0)
    assert http_get(base2 + "/reserve_seat")[2] == RESERVATION_BLOCKED
    assert first.stop() == 0 and second.stop() == 0
