"""The live view in a browser: rq-dashboard on our queues, workers and jobs.

    pip install -e ".[dashboard]"
    python -m queuing_system.web.dashboard      # then open http://127.0.0.1:9181

rq-dashboard lists the queues with their lengths, the workers and what they run, and every
job with its data, status, error and metadata (where our jobs keep their progress),
refreshed every few seconds. Set up here for our jobs, whose JSON payloads it reads only
when told (its `-j`), and served by the apps' server on 127.0.0.1: it can delete and
requeue jobs, so it is not for every network. It answers only requests naming its own
Host (the address it listens on, localhost, and each --allow-host or $DASHBOARD_HOSTS
name), changes nothing but by POST, and answers errors in JSON. Beside its pages:
/healthz, /readyz (any Host: probes name the address) and /metrics. REDIS_URL names the
Redis (a Sentinel URL too).
"""

import argparse
import json
import os
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request
from rq.exceptions import NoSuchJobError
from rq.serializers import JSONSerializer
from werkzeug.exceptions import HTTPException

from ..connection import configured_url, make_client
from ..console import warn
from ..logs import add_log_arguments
from ..shutdown import EXIT_FAILED, run
from .app import add_address_arguments, answer_503_while_redis_is_away, serve_app
from .health import add_operations_routes

DEFAULT_PORT = 9181  # rq-dashboard's own
HOSTS_ENV = "DASHBOARD_HOSTS"  # other names it is reached by (HOST=0.0.0.0 behind a name)
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
INSTALL = 'pip install -e ".[dashboard]"'
HOSTS_CONFIG = "QUEUING_ALLOWED_HOSTS"  # app.config's key for the names given to create_app
PROBES = frozenset({"/healthz", "/readyz"})


def create_app(url=None, hosts=()):
    """rq-dashboard as its documentation embeds it, on the Redis at `url` (REDIS_URL),
    answering requests for its own Host: a loopback name, $HOST, $DASHBOARD_HOSTS, and the
    names in `hosts` (the address it listens on, --allow-host)."""
    import rq_dashboard  # the optional extra: imported only when the dashboard is wanted

    # Its pages link their scripts and styles as the app's own static files.
    app = Flask(__name__, static_folder=rq_dashboard.blueprint.static_folder)
    app.config.from_object(rq_dashboard.default_settings)
    app.config["RQ_DASHBOARD_REDIS_URL"] = url or configured_url()
    rq_dashboard.web.config.serializer = JSONSerializer  # what its `-j` sets
    rq_dashboard.web.setup_rq_connection(app)
    app.config[HOSTS_CONFIG] = frozenset(name.lower() for name in hosts)
    # Its Redis by our factory, as every script's: a Sentinel URL's primary followed through
    # a failover, a replica's READONLY dropped (rq-dashboard reads the same URL with
    # redis-sentinel-url, and keeps a client it never moves off a demoted primary).
    app.redis_conn = make_client(app.config["RQ_DASHBOARD_REDIS_URL"][0], decode_responses=False)
    app.register_blueprint(rq_dashboard.blueprint)
    app.before_request(refuse_other_sites)
    answer_errors_in_json(app)
    answer_503_while_redis_is_away(app)  # its pages poll: they show Redis back by themselves
    add_operations_routes(app, lambda app: app.redis_conn)  # /healthz, /readyz, /metrics
    return app


def refuse_other_sites():
    """Its buttons delete and requeue jobs, and it has no CSRF token: another site must not
    press them, nor read its data.

    - A request naming another Host is refused: a page of another site whose name was
      made to point at 127.0.0.1 (DNS rebinding) is, to the browser, of that site, and
      its requests pass any Origin check; their Host header is that site's name.
    - What changes something (rq-dashboard's POST routes, some of which take a GET too:
      `GET /requeue/<queue>` ran every failed job again) is refused by any other method:
      a link or an <img> cannot do it.
    - A POST a browser says comes from another site (Origin) is refused. A command-line
      client says nothing and is let through."""
    if request.path in PROBES:
        return None  # no data, nothing changed: an orchestrator's probe names the address
    if not own_host(request.host, request.environ.get("SERVER_PORT", "80"), current_app.config[HOSTS_CONFIG]):
        abort(403)
    rule = request.url_rule
    if rule is not None and "POST" in rule.methods and request.method != "POST":
        abort(405, valid_methods=["POST"])
    origin = request.headers.get("Origin")
    if request.method not in ("GET", "HEAD", "OPTIONS") and origin is not None:
        if urlsplit(origin).netloc != request.host:
            abort(403)


def own_host(host, port, allowed=()):
    """Whether a request's Host names this dashboard: the address it listens on, a name of
    the loopback address (localhost, 127.0.0.1, [::1]), one of $DASHBOARD_HOSTS (names it
    is reached by, comma-separated) or of `allowed`, each on the port it listens on."""
    try:
        parsed = urlsplit(f"//{host}")
        name, given_port = (parsed.hostname or "").lower(), parsed.port
    except ValueError:
        return False
    extra = {part.strip().lower() for part in os.environ.get(HOSTS_ENV, "").split(",") if part.strip()}
    names = LOOPBACK_NAMES | {os.environ.get("HOST", "127.0.0.1").lower()} | extra | set(allowed)
    return name in names and str(given_port or 80) == str(port)


def answer_errors_in_json(app):
    """Its errors in JSON, as the apps': a job deleted meanwhile is a 404, not an HTML 500
    with a traceback on stderr."""

    @app.errorhandler(HTTPException)
    def http_error(error):
        response = error.get_response()  # keeps headers such as Allow on a 405
        response.set_data(json.dumps({"error": error.name}, separators=(",", ":")))
        response.mimetype = "application/json"
        return response

    @app.errorhandler(NoSuchJobError)
    def no_such_job(error):
        return {"error": "Not Found", "reason": "No such job"}, 404

    @app.errorhandler(Exception)
    def internal_error(error):
        warn(f"The dashboard failed on {request.method} {request.path[:200]}: {error!r}")
        return {"error": "Internal Server Error"}, 500


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_log_arguments(add_address_arguments(parser, DEFAULT_PORT))
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help=f"a name it is reached by (behind a proxy, --host 0.0.0.0), besides localhost "
        f"and the address it listens on; again for more (also ${HOSTS_ENV}, comma-separated)",
    )
    options = parser.parse_args(argv)
    try:
        app = create_app(hosts=[options.host, *options.allow_host])
    except ImportError as error:
        warn(f"The dashboard needs its extra ({error.name} is missing): {INSTALL}")
        return EXIT_FAILED
    return serve_app(app, options.host, options.port)


if __name__ == "__main__":
    run(main)
