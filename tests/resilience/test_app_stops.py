"""Both apps stop on one Ctrl-C (SIGINT to the process group, as a terminal sends) or one
SIGTERM, every time, within 5 s, whatever the moment: right as the port opens (the
server's workers still starting), or later. STOP_TRIES sets how many tries per case."""

import os
import signal
import time

import pytest

from queuing_system.grader.harness import listening, processes_using, start_app, wait_for

STOP_WITHIN = 5.0
TRIES = int(os.environ.get("STOP_TRIES", "8"))
MOMENTS = [0.0, 0.2, 0.5, 1.0]  # seconds after the port opened


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)], ids=["Ctrl-C", "SIGTERM"])
@pytest.mark.parametrize("name", ["9_stock.py", "100_seat.py"])
def test_an_app_stops_every_time_within_5_s(redis_url, name, sig, code):
    took = []
    for attempt in range(TRIES):
        app, base = start_app(name, redis_url)
        try:
            time.sleep(MOMENTS[attempt % len(MOMENTS)])  # the moment of the stop, not a wait
            started = time.monotonic()
            if sig == signal.SIGINT:
                os.killpg(app.pid, sig)
            else:
                app.process.send_signal(sig)
            assert app.wait(timeout=STOP_WITHIN + 10) == code, app.stderr
            took.append(time.monotonic() - started)
        finally:
            app.kill()
        assert app.stderr == listening(base)
        wait_for(lambda: not processes_using(redis_url), timeout=2)
    assert max(took) < STOP_WITHIN, took
