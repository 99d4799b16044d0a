"""The live view in a browser: rq-dashboard on our queues, workers and jobs.

    pip install -e ".[dashboard]"
    python -m queuing_system.dashboard      # then open http://127.0.0.1:9181

rq-dashboard lists the queues with their lengths, the workers and what they run, and every
job with its data, status, error and metadata (where our jobs keep their progress),
refreshed every few seconds. Set up here for our jobs, whose JSON payloads it reads only
when told (its `-j`), and served by the apps' server on 127.0.0.1: it can delete and
requeue jobs, so it is not for every network. PORT changes the port, REDIS_URL the Redis.
"""

from urllib.parse import urlsplit

from flask import Flask, abort, request
from rq.serializers import JSONSerializer

from .connection import configured_url
from .console import warn
from .shutdown import EXIT_FAILED, run
from .web import address, answer_503_while_redis_is_away, serve

DEFAULT_PORT = 9181  # rq-dashboard's own
INSTALL = 'pip install -e ".[dashboard]"'


def create_app(url=None):
    """rq-dashboard as its documentation embeds it, on the Redis at `url` (REDIS_URL)."""
    import rq_dashboard  # the optional extra: imported only when the dashboard is wanted

    # Its pages link their scripts and styles as the app's own static files.
    app = Flask(__name__, static_folder=rq_dashboard.blueprint.static_folder)
    app.config.from_object(rq_dashboard.default_settings)
    app.config["RQ_DASHBOARD_REDIS_URL"] = url or configured_url()
    rq_dashboard.web.config.serializer = JSONSerializer  # what its `-j` sets
    rq_dashboard.web.setup_rq_connection(app)
    app.register_blueprint(rq_dashboard.blueprint)
    app.before_request(refuse_other_sites)
    answer_503_while_redis_is_away(app)  # its pages poll: they show Redis back by themselves
    return app


def refuse_other_sites():
    """Its buttons delete and requeue jobs with POSTs, and it has no CSRF token: a page of
    another site, open in the same browser, must not press them. Browsers say where a POST
    comes from (Origin); a command-line client says nothing and is let through."""
    origin = request.headers.get("Origin")
    if request.method not in ("GET", "HEAD", "OPTIONS") and origin is not None:
        if urlsplit(origin).netloc != request.host:
            abort(403)


def main():
    try:
        app = create_app()
    except ImportError as error:
        warn(f"The dashboard needs its extra ({error.name} is missing): {INSTALL}")
        return EXIT_FAILED
    return serve(app, port=address(DEFAULT_PORT)[1])


if __name__ == "__main__":
    run(main)
