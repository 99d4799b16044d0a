"""The live view: rq-dashboard on our queues, looked at in headless Chromium."""

import http.client
import json
import os
import shutil
import signal
import struct
import subprocess
import zlib

import pytest
from rq import Worker

from queuing_system.grader.expected import NOT_CONNECTED_PREFIX
from queuing_system.grader.harness import RunningScript, http_get, listening, port_open, run_script, wait_for
from queuing_system.grader.redis_server import free_port
from queuing_system.jobs import create_jobs, job_queue

QUEUE = "push_notification_code_2"
WINDOW = (1280, 800)
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")
# As root, on a machine with no network but loopback: no sandbox, nothing fetched at start.
BROWSER_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",  # lets the page's scripts fetch and draw its data first
)

dashboard_app = pytest.importorskip("queuing_system.web.dashboard").create_app


def browser():
    """Chromium's path. Missing, the test is skipped where people run it, and fails in CI
    (.ci/run installs it), so that the check cannot silently stop being made."""
    found = next(filter(None, map(shutil.which, BROWSER_NAMES)), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("headless Chromium is missing: .ci/run installs it (apt-get install chromium)")
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return found


def look(url, profile, screenshot=None):
    """The page at `url` as Chromium draws it, its scripts run: its DOM, or (`screenshot`) a PNG."""
    what = (
        [f"--screenshot={screenshot}", "--window-size={},{}".format(*WINDOW)]
        if screenshot
        else ["--dump-dom"]
    )
    shown = subprocess.run(
        [browser(), *BROWSER_FLAGS, f"--user-data-dir={profile}", *what, url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    return shown.stdout


def png_size_and_rows(path):
    """(width, height) of a PNG, and how many different rows of pixels it has."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        if data[at + 4 : at + 8] == b"IDAT":
            chunks.append(data[at + 8 : at + 8 + length])
        at += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    row = len(pixels) // height
    return (width, height), len({pixels[n * row : (n + 1) * row] for n in range(height)})


@pytest.fixture
def dashboard(redis_url):
    port = free_port()
    script = RunningScript("-m", redis_url, "queuing_system.web.dashboard", PORT=str(port))
    wait_for(lambda: port_open(port) or not script.running())
    yield script, f"http://127.0.0.1:{port}"
    script.kill()


def test_the_dashboard_in_chromium_lists_our_queues_and_a_jobs_progress(
    redis_url, scripts, redis_binary, dashboard, tmp_path
):
    processor = scripts("7_job_processor.py", redis_url)
    wait_for(lambda: len(Worker.all(queue=job_queue(QUEUE, redis_binary))) == 2)
    assert scripts("7_job_creator.py", redis_url).wait() == 0
    app, base = dashboard
    profile = tmp_path / "profile"

    queues = look(base + "/", profile)
    row = queues[queues.index(f">{QUEUE}<") :].split("</tr>")[0]
    assert ">9<" in row and ">2<" in row  # finished and failed, drawn by the page's scripts
    job = look(base + "/0/view/job/3", profile)
    assert '<strong>Metadata</strong>:<br>{"progress": 50}' in job  # drawn from the job's data
    assert "<strong>Status</strong>:<br>finished" in job

    for page, name in ((base + "/", "queues.png"), (base + "/0/view/job/3", "job.png")):
        look(page, profile, screenshot=tmp_path / name)
        size, rows = png_size_and_rows(tmp_path / name)
        assert size == WINDOW and rows > 100, f"{name}: a blank or unstyled page ({rows} kinds of row)"

    assert app.stop() == 0 and app.stderr == listening(base)
    assert processor.stop() == 0


def test_a_post_from_another_site_is_refused_and_ones_own_goes_through(redis_url, redis_binary):
    client = dashboard_app(redis_url).test_client()
    [job] = create_jobs(job_queue(QUEUE, redis_binary), "7_job_processor.process", [{}])
    other = client.post(f"/job/{job.id}/delete", headers={"Origin": "http://evil.example"})
    assert other.status_code == 403 and redis_binary.exists(job.key)
    own = client.post(f"/job/{job.id}/delete", headers={"Origin": "http://localhost"})
    assert own.status_code == 200 and not redis_binary.exists(job.key)
    assert client.get("/0/data/queues.json").status_code == 200


def test_without_the_extra_it_says_how_to_install_it_in_one_line(redis_url, tmp_path):
    hidden = tmp_path / "rq_dashboard.py"
    hidden.write_text("raise ModuleNotFoundError(\"No module named 'rq_dashboard'\", name='rq_dashboard')\n")
    run = run_script("-m", redis_url, "queuing_system.web.dashboard", PYTHONPATH=f"{tmp_path}{os.pathsep}.")
    assert run.returncode == 1 and run.stdout == ""
    assert (
        run.stderr
        == 'The dashboard needs its extra (rq_dashboard is missing): pip install -e ".[dashboard]"\n'
    )


def test_the_dashboard_stops_cleanly_on_ctrl_c(dashboard):
    app, base = dashboard
    assert app.stop(sig=signal.SIGINT) == 130 and app.stderr == listening(base)


def test_with_redis_away_its_data_answers_503_without_a_traceback(tmp_path):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    port = free_port()
    app = RunningScript("-m", closed, "queuing_system.web.dashboard", PORT=str(port))
    try:
        wait_for(lambda: port_open(port) or not app.running())
        status, kind, body = http_get(f"http://127.0.0.1:{port}/0/data/queues.json")
        assert (status, kind) == (503, "application/json")
        assert json.loads(body)["reason"] == "Redis is not reachable"
        assert app.stop() == 0
        listens, *lines = app.stderr.splitlines(keepends=True)
        assert listens == listening(f"http://127.0.0.1:{port}")
        assert [line.startswith(NOT_CONNECTED_PREFIX) for line in lines] == [True]  # said once
    finally:
        app.kill()


def test_a_page_of_another_site_pointed_at_it_by_dns_cannot_read_or_change_anything(redis_url, redis_binary):
    """DNS rebinding: evil.example made to resolve to 127.0.0.1 is, to the browser, one
    site with the dashboard: its requests name evil.example as Host and as Origin."""
    client = dashboard_app(redis_url).test_client()
    [job] = create_jobs(job_queue(QUEUE, redis_binary), "7_job_processor.process", [{}])
    evil = {"Host": "evil.example", "Origin": "http://evil.example"}
    for method, path in (
        ("GET", f"/0/data/job/{job.id}.json"),
        ("POST", f"/job/{job.id}/delete"),
        ("GET", "/"),
    ):
        refused = client.open(path, method=method, headers=evil)
        assert (refused.status_code, refused.content_type) == (403, "application/json")
        assert refused.json == {"error": "Forbidden"}
    assert redis_binary.exists(job.key)
    for host in ("localhost", "127.0.0.1", "[::1]"):
        assert client.get(f"/0/data/job/{job.id}.json", headers={"Host": host}).status_code == 200
    assert (
        client.get("/0/data/queues.json", headers={"Host": "localhost:9999"}).status_code == 403
    )  # another port


def test_what_changes_something_is_refused_by_get(redis_url, redis_binary):
    client = dashboard_app(redis_url).test_client()
    queue = job_queue(QUEUE, redis_binary)
    [job] = create_jobs(queue, "7_job_processor.process", [{}])
    queue.remove(job.id)
    queue.failed_job_registry.add(job, ttl=600)  # as a failed job lies
    refused = client.get(f"/requeue/{QUEUE}")  # rq-dashboard takes GET here: a link would do it
    assert (refused.status_code, refused.headers["Allow"], refused.json) == (
        405,
        "POST",
        {"error": "Method Not Allowed"},
    )
    assert queue.failed_job_registry.get_job_ids() == [job.id]
    assert client.post(f"/requeue/{QUEUE}").json == {"status": "OK", "count": 1}
    assert queue.failed_job_registry.get_job_ids() == []


def test_a_job_gone_meanwhile_is_a_404_in_json_not_an_html_500(redis_url):
    client = dashboard_app(redis_url).test_client()
    for path in ("/0/view/job/404", "/0/data/job/404.json"):
        gone = client.get(path)
        assert (gone.status_code, gone.content_type) == (404, "application/json")
        assert gone.json == {"error": "Not Found", "reason": "No such job"}
    assert client.get("/no/such/page").json == {"error": "Not Found"}


def test_the_served_dashboard_answers_only_its_own_host(dashboard):
    app, base = dashboard
    port = base.rsplit(":", 1)[1]
    assert host_status(base, f"127.0.0.1:{port}") == host_status(base, f"localhost:{port}") == 200
    assert host_status(base, f"evil.example:{port}") == 403
    assert app.stop() == 0 and app.stderr == listening(base)


def host_status(base, host):
    """The status of GET /0/data/queues.json at `base`, naming `host` as its Host."""
    connection = http.client.HTTPConnection(base.split("//")[1], timeout=10)
    try:
        connection.request("GET", "/0/data/queues.json", headers={"Host": host})
        return connection.getresponse().status
    finally:
        connection.close()
