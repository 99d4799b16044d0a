"""The web: both apps' JSON rules (app.py), the HTTP server with its flow control
(http_server.py), the round trips its requests share (round_trips.py), a request's Redis
I/O (greenlet_io.py) and the client speed-ups under it (redis_speedups.py), the apps'
atomic steps (reservations.py, sale.py) and the dashboard (dashboard.py).

Import its parts from their modules: this package imports none of them by itself.
"""
