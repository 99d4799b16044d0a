"""Running it in production (issue 36): health and readiness, Prometheus metrics, the
workers' health command, on real processes."""

import json
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from queuing_system.grader.expected import QUEUE_PROCESSING, RESERVATION_IN_PROCESS, seat_completed
from queuing_system.grader.harness import (
    RunningScript,
    http_get,
    port_open,
    script_env,
    scripts_dir,
    wait_for,
)
from queuing_system.grader.redis_server import RedisServer, free_port

QUEUE = "push_notification_code_2"


def metric(text, name, **labels):
    """The value of sample `name{labels}` in Prometheus's text `text`, or None."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode()


@pytest.mark.parametrize("name", ["9_stock.py", "100_seat.py"])
def test_each_app_answers_healthz_readyz_and_metrics(name, start_app):
    with RedisServer() as server:
        app, base = start_app(name, server.url)
        assert http_get(base + "/healthz") == (200, "application/json", '{"status":"ok"}')
        assert http_get(base + "/readyz") == (200, "application/json", '{"status":"ready"}')
        content_type, text = scrape(base + "/metrics")
        assert content_type.startswith("text/plain; version=")  # the text format
        assert metric(text, "queuing_redis_outages_total") == 0
        server.stop()  # Redis gone: not ready, still alive
        status, content_type, body = http_get(base + "/readyz")
        assert (status, content_type) == (503, "application/json")
        assert json.loads(body)["status"] == "not ready" and json.loads(body)["reason"]
        assert http_get(base + "/healthz")[0] == 200
        wait_for(lambda: (metric(scrape(base + "/metrics")[1], "queuing_redis_outages_total") or 0) >= 1)
        server.start()
        wait_for(lambda: http_get(base + "/readyz")[0] == 200)
        assert app.stop() == 0


def test_readyz_answers_503_within_its_bound_when_redis_freezes(start_app):
    with RedisServer() as server:
        app, base = start_app("100_seat.py", server.url)
        assert http_get(base + "/readyz")[0] == 200
        server.process.send_signal(signal.SIGSTOP)  # frozen: connections open, nothing answered
        try:
            started = time.monotonic()
            status, _, body = http_get(base + "/readyz")
            took = time.monotonic() - started
            assert http_get(base + "/healthz")[0] == 200  # alive all the same
        finally:
            server.process.send_signal(signal.SIGCONT)
        assert status == 503 and json.loads(body)["status"] == "not ready"
        assert took < 3.5, took  # the 2 s bound, and the answer's way
        assert app.stop() == 0


def test_the_seat_app_counts_its_jobs_and_shows_its_queue(redis_url, start_app):
    app, base = start_app("100_seat.py", redis_url)
    for _ in range(3):
        assert http_get(base + "/reserve_seat")[2] == RESERVATION_IN_PROCESS
    text = scrape(base + "/metrics")[1]
    assert metric(text, "queuing_queue_depth", queue="reserve_seat") == 3
    assert http_get(base + "/process")[2] == QUEUE_PROCESSING
    assert sorted(app.next_line() for _ in range(3)) == sorted(seat_completed(n) for n in (1, 2, 3))
    wait_for(
        lambda: (
            metric(scrape(base + "/metrics")[1], "queuing_jobs_completed_total", queue="reserve_seat") == 3
        )
    )
    text = scrape(base + "/metrics")[1]
    assert metric(text, "queuing_jobs_started_total", queue="reserve_seat") == 3
    assert metric(text, "queuing_job_wait_seconds_count", queue="reserve_seat") == 3
    assert metric(text, "queuing_job_run_seconds_count", queue="reserve_seat") == 3
    assert metric(text, "queuing_queue_depth", queue="reserve_seat") == 0
    assert app.stop() == 0


def test_a_processor_serves_its_workers_metrics_summed(redis_url, scripts):
    port = free_port()
    processor = scripts("7_job_processor.py", redis_url, "--metrics-port", str(port), "--workers", "3")
    wait_for(lambda: port_open(port))
    creator = scripts("7_job_creator.py", redis_url)
    assert creator.wait() == 0
    url = f"http://127.0.0.1:{port}/metrics"
    wait_for(lambda: metric(scrape(url)[1], "queuing_jobs_completed_total", queue=QUEUE) == 9)
    text = scrape(url)[1]
    assert metric(text, "queuing_jobs_failed_total", queue=QUEUE) == 2  # the blacklisted numbers
    assert metric(text, "queuing_jobs_started_total", queue=QUEUE) == 11
    assert metric(text, "queuing_jobs_retried_total", queue=QUEUE) == 0  # none has retries
    assert metric(text, "queuing_job_wait_seconds_count", queue=QUEUE) == 11
    assert metric(text, "queuing_job_run_seconds_bucket", queue=QUEUE, le="+Inf") == 11
    assert metric(text, "queuing_queue_depth", queue=QUEUE) == 0
    assert processor.stop() == 0
    assert processor.stderr.splitlines()[1] == f"Metrics on http://127.0.0.1:{port}/metrics"


def test_a_processor_without_metrics_port_serves_none_and_imports_no_client(redis_url):
    probe = (
        "import sys, importlib; p = importlib.import_module('7_job_processor');"
        "import redis; from queuing_system.worker import pool;"
        "w = pool.make_worker({p.QUEUE: p.PROCESS}, redis.Redis());"
        "print(w.metrics, 'prometheus_client' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=scripts_dir(),
        env=script_env(redis_url),
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout) == (0, "None False\n"), done.stderr


def health(url, *args):
    return subprocess.run(
        [sys.executable, "-m", "queuing_system.health", *args],
        cwd=scripts_dir(),
        env=script_env(url),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_health_command_says_whether_the_queues_workers_live(redis_url, scripts):
    checked = health(redis_url, QUEUE)
    assert checked.returncode == 1 and checked.stderr.startswith(
        f"unhealthy: 0 live worker(s) of {QUEUE} on "
    )
    processor = scripts("7_job_processor.py", redis_url)
    wait_for(lambda: health(redis_url, QUEUE, "--at-least", "2").returncode == 0)
    assert health(redis_url, QUEUE, "--at-least", "3").returncode == 1
    assert health(redis_url, QUEUE, "--any-host").stdout.startswith(f"healthy: 2 live worker(s) of {QUEUE}")
    assert health(redis_url, "push_notification_code").returncode == 1  # no worker of that queue
    assert processor.stop() == 0
    assert health(redis_url, QUEUE).returncode == 1


def test_the_health_command_fails_in_one_line_when_redis_is_away():
    checked = health("redis://127.0.0.1:1/0", QUEUE)
    assert checked.returncode == 1
    assert checked.stderr.startswith("unhealthy: cannot ask Redis: ") and checked.stderr.count("\n") == 1


def test_the_dashboard_takes_host_port_and_allowed_names(redis_url):
    shown = subprocess.run(
        [sys.executable, "-m", "queuing_system.web.dashboard", "--help"], capture_output=True, text=True
    )
    assert shown.returncode == 0
    for option in ("--host", "--port", "--allow-host", "--access-log", "QUEUING_DEBUG"):
        assert option in shown.stdout
    port = free_port()
    args = ["queuing_system.web.dashboard", "--port", str(port), "--allow-host", "queues.example"]
    dashboard = RunningScript("-m", redis_url, *args)
    try:
        wait_for(lambda: port_open(port) or not dashboard.running())

        def get(path, host):
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        assert get("/", f"queues.example:{port}") == 200
        assert get("/", f"evil.example:{port}") == 403
        assert get("/healthz", "10.1.2.3") == 200  # a probe names the address it reached
        assert get("/readyz", "10.1.2.3") == 200
        assert get("/metrics", f"localhost:{port}") == 200
        assert dashboard.stop(signal.SIGINT) == 130
    finally:
        dashboard.kill()
