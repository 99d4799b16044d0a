"""Connections killed under load (CLIENT KILL every few milliseconds): a write retried
after a dropped connection never takes a second unit. Confirmations equal units taken."""

import threading

import redis

from queuing_system.grader.expected import reservation_confirmed
from queuing_system.grader.harness import get_many

KILL_EVERY = 0.003  # seconds


class ConnectionKiller(threading.Thread):
    """Kills every client connection (but its own) every KILL_EVERY seconds until stopped."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.admin = redis.Redis.from_url(url)
        self.stopping = threading.Event()
        self.kills = 0

    def run(self):
        while not self.stopping.wait(KILL_EVERY):
            try:
                self.kills += self.admin.client_kill_filter(_type="normal", skipme=True)
            except redis.RedisError:
                pass

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        self.join()


def test_stock_reservations_under_connection_kills_confirm_exactly_the_units_taken(redis_url, start_app):
    client = redis.Redis.from_url(redis_url)
    client.set("item.2", 100_000)
    app, base = start_app("9_stock.py", redis_url)
    with ConnectionKiller(redis_url) as killer:
        answers = get_many([base + "/reserve_product/2"], 4000, clients=32)
    taken = 100_000 - int(client.get("item.2"))
    confirmed = sum(body == reservation_confirmed(2) for _url, (_s, _t, body) in answers)
    assert killer.kills > 100
    assert confirmed == taken
    assert {status for _url, (status, _t, _b) in answers} <= {200, 503}
    assert app.stop() == 0
