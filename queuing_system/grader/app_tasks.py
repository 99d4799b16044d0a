"""Tasks 12 and 13: the Flask apps, exercised over HTTP as the spec's curl examples do."""

import json
import re
import time

from . import diffs, expected
from .checks import EXERCISE_PORT, WAIT, registering, stop_long_running
from .evidence import on_queue, seen_jobs
from .isolation import listening_ports
from .trial import http_get

TASKS = []
task = registering(TASKS)
SEAT_DONE = re.compile(r"^Seat reservation job (\S+) completed$")


def start_app(trial, name):
    """Start an app with PORT set and wait for it to listen: (script, port) or (script, None)."""
    port = trial.app_port
    trial.command(f"PORT={port} python {name}")
    app = trial.start(name, app=True)
    elsewhere_since = None
    while True:
        listening = listening_ports(trial.processes_of(app))
        if port in listening:
            return app, port
        elsewhere = sorted(listening)
        if elsewhere and not trial.strict and EXERCISE_PORT in elsewhere:
            trial.advise(
                f"{name} listens on {EXERCISE_PORT}, the exercise's port, not on PORT={port}: read PORT."
            )
            return app, EXERCISE_PORT
        if elsewhere:
            elsewhere_since = elsewhere_since or time.monotonic()
            if time.monotonic() - elsewhere_since > 1.5:
                trial.fail(
                    f"{name} listens on {', '.join(f'127.0.0.1:{each}' for each in elsewhere)}, not on "
                    f"PORT={port}: read the port from the PORT environment variable (default "
                    f"{EXERCISE_PORT}).",
                    script=name,
                )
                return app, None
        if not app.running():
            app.settle()
            if not trial.ended_badly(app):
                trial.fail(f"{name} ended before it listened on 127.0.0.1:{port}.", script=name)
            return app, None
        if time.monotonic() - app.started > WAIT:
            trial.fail(
                f"waited {WAIT}s for {name} to listen on 127.0.0.1:{port} (PORT={port}); it "
                "listens on nothing.",
                script=name,
            )
            return app, None
        app.wait_until(lambda: False, 0.05)


def same_json(one, other):
    """Equal as JSON values: numbers by value, but true is not 1."""
    if isinstance(one, bool) or isinstance(other, bool):
        return type(one) is type(other) and one == other
    if isinstance(one, (int, float)) and isinstance(other, (int, float)):
        return one == other
    if isinstance(one, dict) and isinstance(other, dict):
        return one.keys() == other.keys() and all(same_json(one[key], other[key]) for key in one)
    if isinstance(one, list) and isinstance(other, list):
        return len(one) == len(other) and all(same_json(a, b) for a, b in zip(one, other, strict=True))
    return type(one) is type(other) and one == other


def byte_differences(body, value, model):
    """How a body that is the exercise's JSON differs from the spec's bytes."""
    found = set()
    text = body.rstrip("\n")
    if text != body:
        found.add("a newline after each body (jsonify adds one)")
    if diffs.compact(value) != diffs.compact(diffs.in_order_of(value, model)):
        found.add("keys in another order (Flask sorts them; app.json.sort_keys = False keeps yours)")
    if text != diffs.compact(value):
        found.add("spaces or escapes in the JSON (the spec's is compact UTF-8)")
    return found


class Curl:
    """The requests of an app task, each judged; the spec-only differences gathered as advice."""

    def __init__(self, trial, name, port):
        self.trial, self.name, self.port = trial, name, port
        self.not_spec = set()
        self.gone = False

    def get_many(self, path, want, times):
        """The same request `times` times, shown once: the first body that differs, if one does."""
        self.trial.command(f"for n in $(seq {times}); do curl localhost:{self.port}{path}; done")
        shown = len(self.trial.transcript)
        problems = len(self.trial.findings.problems)
        body = None
        for _ in range(times):
            body = self.get(path, want, shown=False)
            if body is None or len(self.trial.findings.problems) > problems:
                break
        if body is not None:
            self.trial.transcript.insert(shown, diffs.cut(diffs.visible(body)) + f"   (x{times})")
        return body

    def get(self, path, want, shown=True):
        trial = self.trial
        if shown:
            trial.command(f"curl localhost:{self.port}{path}")
        if self.gone:
            return None
        answer = http_get(self.port, path)
        if isinstance(answer, str):
            self.gone = True
            trial.fail(f"GET {path}: {self.name} did not answer ({answer}).", script=self.name)
            return None
        status, content_type, raw = answer
        body = raw.decode("utf-8", "backslashreplace")
        if shown:
            trial.transcript.append(diffs.cut(diffs.visible(body)))
        if trial.strict:
            if status != 200 or content_type != "application/json":
                trial.fail(
                    f"GET {path} answered {status} {content_type!r}; the spec's: 200 'application/json'.",
                    script=self.name,
                )
            if body != want:
                trial.fail(
                    f"GET {path}: the body is not the spec's, byte for byte:",
                    diffs.unified(diffs.body_lines(want), diffs.body_lines(body), "expected", "got"),
                    self.name,
                )
            return body
        if not content_type.startswith("application/json"):
            trial.fail(
                f"GET {path} answered Content-Type {content_type!r}: the exercise answers JSON "
                "(return a dict, or jsonify(...)).",
                script=self.name,
            )
        try:
            value = json.loads(body)
        except ValueError:
            trial.fail(
                f"GET {path}: the body is not JSON:",
                diffs.unified(diffs.body_lines(want), diffs.body_lines(body), "expected", "got"),
                self.name,
            )
            return body
        model = json.loads(want)
        if not same_json(value, model):
            trial.fail(
                f"GET {path} answered other JSON than the exercise's:",
                diffs.unified([want], [diffs.compact(diffs.in_order_of(value, model))], "expected", "got"),
                self.name,
            )
            return body
        if status != 200:
            self.not_spec.add(f"GET {path} answered {status} (the spec's answers 200)")
        if body != want:
            self.not_spec.update(byte_differences(body, value, model))
        return body

    def advise(self):
        if self.not_spec:
            self.trial.lenient(
                f"{self.name}'s bodies are the exercise's JSON, but not the spec's bytes: "
                + "; ".join(sorted(self.not_spec))
                + "."
            )


def app_stdout(trial, app, allowed):
    """An app's stdout beyond the lines it should print (Flask's banner): advice by default."""
    extra = [line for line in app.lines() if not allowed(line)]
    if extra:
        trial.lenient(
            f"{app.name} printed {len(extra)} line{'s' if len(extra) > 1 else ''} on stdout that the "
            f"spec's app does not (the first: {diffs.cut(diffs.visible(extra[0]), 100)!r}; Flask's "
            "banner goes there): the spec's prints only its job lines.",
            script=app.name,
        )


@task(12, "9_stock.py: the stock app", ["9_stock.py"])
def task_12(trial):
    name = "9_stock.py"
    app, port = start_app(trial, name)
    try:
        if port:
            curl = Curl(trial, name, port)
            curl.get("/list_products", expected.PRODUCTS)
            curl.get("/list_products/1", expected.product_1(4))
            curl.get("/list_products/12", expected.PRODUCT_NOT_FOUND)
            curl.get("/reserve_product/12", expected.PRODUCT_NOT_FOUND)
            for _ in range(4):
                curl.get("/reserve_product/1", expected.reservation_confirmed(1))
            curl.get("/reserve_product/1", expected.not_enough_stock(1))
            curl.get("/list_products/1", expected.product_1(0))
            curl.advise()
    finally:
        stop_long_running(trial, app, "apps")
        trial.show(app, "[9_stock] ")
    if port:
        app_stdout(trial, app, lambda line: False)
        trial.redis_hint(app)


SEATS = 50
LAST = 2  # the seats left when the grader brings the sale near its end
AFTER_PROCESS = 0.3  # seconds between the first jobs' end and a reservation made after GET /process


def seats_done(app):
    return [SEAT_DONE.match(line).group(1) for line in app.complete_lines() if SEAT_DONE.match(line)]


def wait_for_seats(trial, app, count, after):
    """Wait for the app to print `count` `Seat reservation job JOB_ID completed` lines."""
    if app.wait_until(lambda: len(seats_done(app)) >= count, WAIT):
        return True
    trial.fail(
        f"waited {WAIT}s for 100_seat.py to print {count} `Seat reservation job JOB_ID completed` lines "
        f"{after}; it printed {len(seats_done(app))}.",
        script=app.name,
    )
    return False


@task(13, "100_seat.py: seat reservations through a queue", ["100_seat.py"])
def task_13(trial):
    name = "100_seat.py"
    app, port = start_app(trial, name)
    try:
        if port:
            sell_out(trial, Curl(trial, name, port), app)
    finally:
        stop_long_running(trial, app, "apps")
        trial.show(app, "[100_seat] ")
    if port:
        done = seats_done(app)
        if len(set(done)) < len(done):
            trial.fail(f"{name} printed the same job id for different jobs: {', '.join(done)}.", script=name)
        jobs = {job.id for job in on_queue(seen_jobs(trial.client), "reserve_seat")}
        if jobs and set(done) - jobs:
            trial.fail(
                f"{name} prints ids that are not its jobs' "
                f"({', '.join(sorted(set(done) - jobs)[:3])}): print job.id.",
                script=name,
            )
        if trial.strict and len(done) >= 3 and sorted(done[:3]) != ["1", "2", "3"]:
            trial.fail(
                f"{name}'s job ids are {', '.join(done[:3])}, ...: the spec's are Kue's, integers from one "
                "counter (1, 2, 3 on an empty Redis).",
                script=name,
            )
        app_stdout(trial, app, SEAT_DONE.match)
        trial.redis_hint(app)


def sell_out(trial, curl, app):
    """The exercise's requests, then the sale to its end: a reservation after GET /process
    is processed too, the 50th seat disables reservations, and GET /process again breaks
    nothing."""
    curl.get("/available_seats", expected.available_seats(SEATS))
    for _ in range(3):
        curl.get("/reserve_seat", expected.RESERVATION_IN_PROCESS)
    curl.get("/process", expected.QUEUE_PROCESSING)
    if not wait_for_seats(trial, app, 3, "after GET /process"):
        return curl.advise()
    curl.get("/available_seats", expected.available_seats(SEATS - 3))
    app.wait_until(lambda: False, AFTER_PROCESS)  # a user's pause: a worker that stops when idle has
    curl.get("/reserve_seat", expected.RESERVATION_IN_PROCESS)
    if not wait_for_seats(
        trial,
        app,
        4,
        "after a 4th GET /reserve_seat, made after GET /process: the queue is processed from GET /process on",
    ):
        return curl.advise()
    curl.get("/available_seats", expected.available_seats(SEATS - 4))
    # The sale near its end, as if all but LAST seats were sold: the exercise keeps them
    # under `available_seats` (reserve_seat(number) sets it), and selling 46 takes seconds.
    trial.command(f"redis-cli set available_seats {LAST}   # as if {SEATS - 4 - LAST} more were sold")
    trial.client.set("available_seats", LAST)
    before = len(trial.findings.problems)
    if (
        curl.get("/available_seats", expected.available_seats(LAST)) is None
        or len(trial.findings.problems) > before
    ):
        if len(trial.findings.problems) > before:
            trial.findings.problems[-1].details.append(
                f"(the grader set the key available_seats to {LAST}: the exercise's reserve_seat(number) "
                "keeps the seats there)"
            )
        return curl.advise()
    if curl.get_many("/reserve_seat", expected.RESERVATION_IN_PROCESS, LAST) is None:
        return curl.advise()
    if wait_for_seats(trial, app, 4 + LAST, "for the last seats"):
        curl.get("/available_seats", expected.available_seats(0))
        blocked = curl.get("/reserve_seat", expected.RESERVATION_BLOCKED)
        if blocked is not None and trial.findings.problems and "Reservation are blocked" not in blocked:
            trial.findings.problems[-1].details.append(
                "(every seat is taken: reservations are disabled when the seats reach 0)"
            )
        curl.get("/process", expected.QUEUE_PROCESSING)
        curl.get("/available_seats", expected.available_seats(0))
    curl.advise()
