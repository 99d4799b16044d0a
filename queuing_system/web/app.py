"""What both Flask apps share: compact JSON everywhere, HOST/PORT, a clean shutdown.

Every response is JSON, errors included (404, 405, 500, and 503 while Redis is away);
bodies keep the spec's key order, compact, with no trailing newline.
"""

import argparse
import gc
import os
import resource
import signal
import threading
import time

import orjson
import redis
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from ..connection import cannot_serve_now, describe, outage, reply_code, wait_until_connected
from ..console import debug, inform, warn
from ..logs import add_access_log_argument, add_log_arguments
from ..metrics import count_outages, share_between_processes
from ..processes import run_children
from ..shutdown import EXIT_FAILED, EXIT_OK, exit_code, exit_on_sigterm
from . import greenlet_io
from .greenlet_io import use_loop_sockets
from .health import add_operations_routes
from .http_server import listen, serve_socket
from .redis_speedups import own_connection

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1245
LISTENING = "Listening on http://{host}:{port}"  # on stderr, once the socket is ours
RESTART_DELAY = 1.0  # seconds before replacing a server process that ended on its own
# Seconds the on_shutdown callbacks may take in all once serving has stopped: with the
# second the server takes to close its connections, a stop stays within the spec's 5 s.
SHUTDOWN_WITHIN = 3.0
REDIS_UNAVAILABLE = {"error": "Service Unavailable", "reason": "Redis is not reachable"}
REDIS_CANNOT_SERVE = {"error": "Service Unavailable", "reason": "Redis cannot serve now"}
REDIS_TOO_SLOW = {"error": "Service Unavailable", "reason": "Redis did not answer in time"}
RETRY_AFTER = "1"  # seconds, in a 503's Retry-After: Redis outages are mostly short


# What orjson must hand back to Flask's encoder rather than write its own way: dataclasses,
# dates and subclasses of str, int, dict and list (Flask's `default` knows them).
ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def fast_json(obj):
    """`obj` as compact JSON bytes by orjson (a twentieth of the stdlib's cost), or None
    where the stdlib would write other bytes: non-ASCII text (which it escapes), integers
    over 64 bits, keys that are not strings, types only Flask's encoder knows. (A float is
    written in its shortest form, NaN as null: our bodies have none.)"""
    try:
        body = orjson.dumps(obj, option=ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is one
        return None
    return body if body.isascii() else None


class CompactJSONProvider(DefaultJSONProvider):
    """Flask's JSON, compact, in the spec's key order, without a trailing newline."""

    sort_keys = False

    def dumps(self, obj, **kwargs):
        body = None if kwargs else fast_json(obj)
        return self.flask_dumps(obj, **kwargs) if body is None else body.decode("ascii")

    def flask_dumps(self, obj, **kwargs):
        kwargs.setdefault("separators", (",", ":"))
        return super().dumps(obj, **kwargs)

    def response(self, *args, **kwargs):
        if args and kwargs:
            raise TypeError("app.json.response() takes either args or kwargs, not both")
        obj = args[0] if len(args) == 1 else (args or kwargs or None)
        body = fast_json(obj)
        if body is None:
            body = self.flask_dumps(obj)
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

    answer_503_while_redis_is_away(app)

    @app.errorhandler(Exception)
    def internal_error(error):
        app.logger.exception("unhandled error")
        return json_error(app, {"error": "Internal Server Error"}, 500)


def answer_503_while_redis_is_away(app):
    """Redis away, too slow, or saying it cannot serve now (BUSY, OOM, READONLY...): 503 in
    JSON with a Retry-After, and the outage said on stderr once (no traceback per
    request). A command Redis refused for good (a key of the wrong type, say) is a 500,
    said once per kind of refusal."""

    @app.after_request
    def redis_back(response):
        if response.status_code < 500 and greenlet_io.heard_redis():
            outage.back()  # said once, if it was away
        return response

    @app.errorhandler(redis.RedisError)
    def redis_unavailable(error):
        body = redis_trouble_body(error)
        if body is None:
            refused(error)
            return json_error(app, {"error": "Internal Server Error"}, 500)
        debug(f"Redis unavailable: {error}")
        outage.lost(error)
        response = app.json.response(body)
        response.status_code = 503
        response.headers["Retry-After"] = RETRY_AFTER
        return response


def redis_trouble_body(error):
    """The 503 body for a Redis that cannot serve this request now, or None for a command
    refused for good."""
    if cannot_serve_now(error):
        return REDIS_CANNOT_SERVE
    if isinstance(error, redis.TimeoutError):
        return REDIS_TOO_SLOW
    if isinstance(error, (redis.ConnectionError, OSError)):
        return REDIS_UNAVAILABLE
    return None


REFUSALS_SAID = set()  # the refusals said on stderr: each kind once, not once per request


def refused(error):
    kind = reply_code(error) or type(error).__name__
    if kind not in REFUSALS_SAID and len(REFUSALS_SAID) < 100:
        REFUSALS_SAID.add(kind)
        warn(f"Redis refused a command: {describe(error)}")


def answer_options_in_json(app):
    """Flask's automatic answer to OPTIONS is an empty text/html body: say the allowed
    methods in JSON instead. Flask documents make_default_options_response as the place
    to change it; set on this app alone, it costs other requests nothing."""
    flasks_own = app.make_default_options_response

    def options_in_json():
        response = flasks_own()
        response.set_data(app.json.dumps({"allow": sorted(response.allow)}))
        response.mimetype = "application/json"
        return response

    app.make_default_options_response = options_in_json


def use_json(app):
    """The Flask `app`, answering in JSON only, as the spec asks: bodies compact, in the
    spec's key order, with no trailing newline; every error in JSON (404, 405, 500, and
    503 while Redis is away), never an HTML page; with /healthz, /readyz and /metrics
    (health.py) on app.extensions["redis"], which the app sets. Returns `app`."""
    # Werkzeug answers `//x` and a missing trailing slash with an HTML redirect that Flask
    # hands out before any error handler: match them as they are, or 404 in JSON.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.json = CompactJSONProvider(app)
    app.extensions.setdefault("on_shutdown", [])
    add_json_error_handlers(app)
    answer_options_in_json(app)
    add_operations_routes(app, lambda app: app.extensions["redis"])  # /healthz, /readyz, /metrics
    return app


def create_json_app(import_name):
    """Flask(import_name), answering in JSON only (see use_json)."""
    return use_json(Flask(import_name))


def address(default_port=DEFAULT_PORT):
    return os.environ.get("HOST", DEFAULT_HOST), int(os.environ.get("PORT", default_port))


def port_number(text):
    """An argparse type: a TCP port, 0 to 65535 (0: any free one)."""
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(text)
    return port


def add_address_arguments(parser, default_port=DEFAULT_PORT):
    """`--host` and `--port`, which win over $HOST and $PORT (default 127.0.0.1:1245), and
    `--access-log` (logs.py). Returns `parser`."""
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST", DEFAULT_HOST),
        help=f"the address to listen on (default: $HOST, else {DEFAULT_HOST})",
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=os.environ.get("PORT", str(default_port)),
        help=f"the port to listen on (default: $PORT, else {default_port})",
    )
    return add_access_log_argument(parser)


def allow_many_connections():
    """Raise this process's limit of open files to the most allowed: each client holds one,
    and many slow clients must not starve the others (1,024 is a common default)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def serve(create_app, argv=None, description=None, processes=1):
    """Flask's `app.run()`, for a script's main(), on our HTTP server (http_server.py: flow
    control, deadlines). Reads the command line (`argv`, else sys.argv: --host and --port
    over $HOST and $PORT, --access-log, --log-format; --help shows `description` and
    connects to nothing); then makes the app, `create_app()`; waits for its Redis
    (app.extensions["redis"]) and runs its on_start callbacks (the seat sale joins) before
    it listens (in this process: a forked server process joins what it serves, the sale,
    on its first request); serves it until SIGTERM or Ctrl-C, in `processes` processes;
    runs its on_shutdown callbacks. Returns the exit code (shutdown.exit_code): 0 on
    SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us or it cannot listen; never a traceback."""
    return exit_code(lambda: serve_command_line(create_app, argv, description, processes))


def serve_command_line(create_app, argv, description, processes):
    parser = add_address_arguments(add_log_arguments(argparse.ArgumentParser(description=description)))
    options = parser.parse_args(argv)
    app = create_app()
    start(app)
    return serve_app(app, options.host, options.port, processes)


def start(app):
    """What an app does before it listens: wait for its Redis to answer (said on stderr
    while it waits; a wrong password or REDIS_URL ends the script), then its on_start
    callbacks, in order."""
    if app.extensions.get("redis") is not None:  # a REDIS_URL that is not one is said here
        wait_until_connected(app.extensions["redis"], quiet=True)
    for callback in app.extensions.get("on_start", ()):
        callback()


def serve_app(app, host=None, port=None, processes=1):
    """Serve `app` on `host`:`port` (default: $HOST:$PORT, else 127.0.0.1:1245) until
    SIGTERM or Ctrl-C, in this process or in `processes` forked ones sharing the socket,
    then run its on_shutdown callbacks. Returns the exit code (1 if it cannot listen); in
    this process, a stop's exception goes on up to run()."""
    allow_many_connections()
    for client in (app.extensions.get("redis"), app.extensions.get("rq"), getattr(app, "redis_conn", None)):
        use_loop_sockets(client)  # its requests wait for Redis in the event loop, not on it
    default_host, default_port = address()
    host, port = host or default_host, default_port if port is None else port
    if processes > 1:
        share_between_processes()  # one /metrics for all: its counts summed over the processes
    count_outages()
    try:
        sock = listen(host, port)
    except OSError as error:
        warn(f"Cannot listen on {host}:{port}: {error}")
        return EXIT_FAILED
    inform(LISTENING.format(host=host, port=port))
    # What start-up made (Flask, the app, ~100k objects) lives as long as the process: kept
    # out of the cycle collector's full passes, which otherwise walk it all and stall every
    # connection of the process for 25 ms, a request's p99 on a busy host.
    gc.freeze()
    try:
        if processes > 1:
            return run_children(lambda: serve_in_child(app, sock), processes, "HTTP server", RESTART_DELAY)
        serve_socket(app, sock)
        return EXIT_OK
    finally:
        sock.close()
        shut_down(app.extensions.get("on_shutdown", ()))


def shut_down(callbacks):
    """Run the on_shutdown `callbacks` in turn, within SHUTDOWN_WITHIN seconds in all: each
    on a thread of its own, so that one waiting on a frozen Redis (a worker finishing its
    job, the sale's goodbye) cannot hold the stop. One still running then is said on
    stderr and left behind: its thread ends with the process."""
    give_up_at = time.monotonic() + SHUTDOWN_WITHIN
    for callback in callbacks:
        failed = []

        def call(callback=callback, failed=failed):
            try:
                callback()
            except Exception as error:  # a Redis error at the goodbye: said, not a traceback
                failed.append(error)

        thread = threading.Thread(target=call, name="on-shutdown", daemon=True)
        thread.start()
        thread.join(max(give_up_at - time.monotonic(), 0))
        name = getattr(callback, "__qualname__", repr(callback))
        if thread.is_alive():
            warn(f"Stopping without waiting longer for {name} (Redis does not answer)")
        elif failed:
            warn(f"{name} failed while stopping: {describe(failed[0])}")


def serve_in_child(app, sock):
    exit_on_sigterm()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if isinstance(app.extensions.get("redis"), redis.Redis):
        # This process's requests send their commands together (round_trips.py): one
        # connection is all it needs.
        app.extensions["redis"] = own_connection(app.extensions["redis"])
    serve_socket(app, sock, multiprocess=True)
