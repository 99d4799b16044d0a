"""What both Flask apps share: compact JSON everywhere, HOST/PORT, a clean shutdown.

Every response is JSON, errors included (404, 405, 500, and 503 while Redis is away);
bodies keep the spec's key order, compact, with no trailing newline.
"""

import json
import logging
import os
import resource
import signal
import socketserver
import sys

import redis
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server

from .console import debug, debugging, warn
from .processes import start_session, supervise
from .shutdown import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1245
BACKLOG = 4096  # connections the kernel holds before the server takes them
BACKPRESSURE = 8192  # connections one Granian worker serves at once (its default: 512)
HEADER_READ_TIMEOUT_MS = 5000
# Seconds Granian gives its workers to stop before killing them: they wait for every open
# connection, and idle clients (2,000 waiting on their headers) kept them 5 s past the stop.
WORKERS_KILL_TIMEOUT = 2
REDIS_UNAVAILABLE = {"error": "Service Unavailable", "reason": "Redis is not reachable"}


class CompactJSONProvider(DefaultJSONProvider):
    sort_keys = False  # the spec's key order

    def dumps(self, obj, **kwargs):
        kwargs.setdefault("separators", (",", ":"))
        return super().dumps(obj, **kwargs)

    def response(self, *args, **kwargs):
        body = self.dumps(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(body, mimetype=self.mimetype)


def json_error(app, body, status):
    return app.json.response(body), status


def add_json_error_handlers(app):
    @app.errorhandler(HTTPException)
    def http_error(error):
        response = error.get_response()  # keeps headers such as Allow on a 405
        response.set_data(app.json.dumps({"error": error.name}))
        response.mimetype = "application/json"
        return response

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def redis_unavailable(error):
        debug(f"Redis unavailable: {error}")
        return json_error(app, REDIS_UNAVAILABLE, 503)

    @app.errorhandler(Exception)
    def internal_error(error):
        app.logger.exception("unhandled error")
        return json_error(app, {"error": "Internal Server Error"}, 500)


class JSONFlask(Flask):
    def make_default_options_response(self):
        # Flask's own is an empty text/html body: say the allowed methods in JSON instead.
        response = super().make_default_options_response()
        response.set_data(self.json.dumps({"allow": sorted(response.allow)}))
        response.mimetype = "application/json"
        return response


class CutOffAwareReader:
    """A request's input stream that notes when a read came back empty: headers that ended
    there were cut off by a client gone, not ended by their blank line."""

    def __init__(self, stream):
        self.stream = stream
        self.ended = False

    def readline(self, limit=-1):
        line = self.stream.readline(limit)
        self.ended = self.ended or not line
        return line

    def __getattr__(self, name):
        return getattr(self.stream, name)


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler, with two changes.

    Its own answers to a request it cannot parse (a 100 KB path, a 1 MB header, 2,000
    headers, HTTP/2.0) are JSON instead of the stdlib's HTML page.

    A request whose client left before its end is dropped: the stdlib takes the end of the
    stream for the end of the headers, and served it (a reservation for nobody; 2,000 slow
    clients closing at once sent 2,000 requests, and the app took over 30 s to stop)."""

    def setup(self):
        super().setup()
        self.rfile = CutOffAwareReader(self.rfile)

    def parse_request(self):
        if not super().parse_request():
            return False
        if self.rfile.ended:
            self.close_connection = True
            return False
        return True

    def send_error(self, code, message=None, explain=None):
        phrase = self.responses.get(code, ("Error", ""))[0]
        body = json.dumps({"error": phrase}, separators=(",", ":")).encode()
        self.log_error("code %d, message %s", code, message)
        self.request_version = "HTTP/1.1"  # a line it could not parse left HTTP/0.9: no headers
        self.close_connection = True
        self.send_response(code, phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)


def create_json_app(import_name):
    app = JSONFlask(import_name)
    # Werkzeug answers `//x` and a missing trailing slash with an HTML redirect that Flask
    # hands out before any error handler: match them as they are, or 404 in JSON.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.json = CompactJSONProvider(app)
    app.extensions["on_shutdown"] = []
    add_json_error_handlers(app)
    return app


def on_shutdown(app, callback):
    """Run `callback` when serve() stops (e.g. to let a background worker finish its job)."""
    app.extensions["on_shutdown"].append(callback)


def address():
    return os.environ.get("HOST", DEFAULT_HOST), int(os.environ.get("PORT", DEFAULT_PORT))


def quiet_server_logging():
    level = logging.DEBUG if debugging() else logging.ERROR
    logging.getLogger("werkzeug").setLevel(level)


def allow_many_connections():
    """Raise this process's limit of open files to the most allowed: each client holds one,
    and many slow clients must not starve the others (1,024 is a common default)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def serve_production(target, app_dir, workers=2, blocking_threads=2):
    """Serve the app factory `target` ("9_stock:create_app", importable from `app_dir`) with
    Granian, a Rust HTTP server: `workers` processes, each with `blocking_threads` threads
    running the WSGI app. Returns the exit code: 0 on SIGTERM, 130 on Ctrl-C.

    Granian runs in a session of its own and gets one SIGTERM from us: when a terminal's
    Ctrl-C reached its master and workers at once, a worker hung now and then (2 to 4
    stops in 10 here) and the master waited for it forever. Whatever still runs after
    processes.STOP_DEADLINE is killed.
    """
    allow_many_connections()
    host, port = address()
    # fmt: off
    command = [
        sys.executable, "-m", "granian", target,
        "--interface", "wsgi", "--factory", "--working-dir", str(app_dir),
        "--host", host, "--port", str(port),
        "--workers", str(workers), "--blocking-threads", str(blocking_threads),
        "--respawn-failed-workers", "--workers-kill-timeout", str(WORKERS_KILL_TIMEOUT),
        # Slow clients: connections wait for their headers in Granian's event loop, not in a
        # thread; thousands may wait, and one that takes over 5 s to send them is dropped.
        "--backlog", str(BACKLOG), "--backpressure", str(BACKPRESSURE),
        "--http1-header-read-timeout", str(HEADER_READ_TIMEOUT_MS),
        "--log-level", "debug" if debugging() else "error",
    ]
    # fmt: on
    stopped_by = supervise(start_session(command), "the HTTP server")
    if stopped_by is None:
        return EXIT_FAILED  # Granian ended by itself: it said why on stderr
    return EXIT_INTERRUPTED if stopped_by == signal.SIGINT else EXIT_OK


def serve(app):
    """Serve `app` on HOST:PORT (threaded) until SIGTERM or Ctrl-C; return an exit code."""
    quiet_server_logging()
    allow_many_connections()
    host, port = address()
    try:
        server = make_server(host, port, app, threaded=True, request_handler=RequestHandler)
    except OSError as error:
        warn(f"Cannot listen on {host}:{port}: {error}")
        return 1
    debug(f"listening on http://{host}:{port}")

    def handle_error(request, client_address):
        # socketserver prints a traceback for a connection that broke mid-request (a client
        # gone, the server stopping under it): not news, and stderr stays quiet.
        debug(f"request from {client_address} ended early: {sys.exc_info()[1]!r}")

    server.handle_error = handle_error
    try:
        # socketserver's loop, not werkzeug's wrapper: that one swallows Ctrl-C, and the
        # spec wants exit code 130 for it.
        socketserver.BaseServer.serve_forever(server)
    finally:
        server.server_close()
        for callback in app.extensions["on_shutdown"]:
            callback()
