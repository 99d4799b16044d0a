"""Connecting to the Redis at REDIS_URL the way the original node_redis client did.

On connect it prints `Redis client connected to the server`; on a failed attempt it prints
`Redis client not connected to the server: ERROR` and tries again with back-off, until the
server answers or the user presses Ctrl-C. An error retrying cannot fix (a wrong password,
a malformed REDIS_URL) is printed once and ends the script with exit code 1. No message
ever shows the password.

Scripts whose stdout the spec keeps for their own lines (jobs, apps) are `quiet`: their
connection news goes to stderr, once per outage (see `Outage`), not once per attempt.
"""

import asyncio
import os
import re
import ssl
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from redis.backoff import ExponentialBackoff
from redis.maint_notifications import MaintNotificationsConfig
from redis.retry import Retry

from . import command_packer
from .console import say, warn
from .replication import (
    NotReplicated,
    PlainReplicas,
    PrimaryOnly,
    ReplicaError,
    SentinelPrimaryOnly,
    SentinelReplicas,
)

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_URL = "redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE[/DB]"
SENTINEL_PORT = 26379  # a Sentinel's, where the URL names none
# Seconds a Sentinel may take to answer (they are asked in turn: one frozen costs this)...
SENTINEL_TIMEOUT = 0.5
# ...and a primary found through them to accept a connection: one that does not is tried
# again through the Sentinels, which may name another by then.
CONNECT_WITHIN = 2.0
CONNECTED = "Redis client connected to the server"
NOT_CONNECTED = "Redis client not connected to the server: {error}"
FIRST_RETRY_DELAY = 0.1  # seconds
MAX_RETRY_DELAY = 2.0
# After a server restart every pooled connection is dead; retrying a command twice, quickly,
# on a fresh connection hides that from the caller instead of failing one request each.
COMMAND_RETRIES = 2
# A write made idempotent (a receipt key) is tried this many times, COMMAND_RETRIES each,
# before its caller hears that Redis did not answer...
ANSWER_ATTEMPTS = 5
# ...and, while connections keep dropping (Redis there, its clients killed), for this many
# seconds: a caller told "no answer" may have had its write done, so it is told that late.
ANSWER_WITHIN = 3.0
# While Redis stays away, a quiet script reminds the reader after this long, then twice as
# long each time, up to the last.
FIRST_REMINDER = 10.0  # seconds
LAST_REMINDER = 600.0
# What a quiet script says on stderr when Redis answers that it cannot serve now (BUSY,
# OOM, READONLY...: see cannot_serve_now), and when it serves again.
CANNOT_SERVE = "Redis cannot serve now"
SERVING_AGAIN = "Redis serving again"
# Refusals of writes only: reads are served meanwhile (see Outage).
WRITES_REFUSED = frozenset({"OOM", "READONLY", "MISCONF", "NOREPLICAS"})
# Seconds without a write refused before such an outage counts as over: longer than a
# refused writer waits between its tries (retry_delays), or its waits would look quiet.
REFUSALS_QUIET = MAX_RETRY_DELAY + 1.0

# Reply errors by which Redis says it cannot serve now, the command not run: a long script
# holds it (BUSY), it is still loading its data (LOADING), full under noeviction (OOM), a
# replica (READONLY), a replica cut off from its master (MASTERDOWN), unable to save
# (MISCONF), short of replicas (NOREPLICAS), a cluster resharding or down (TRYAGAIN,
# CLUSTERDOWN), a primary demoted under a blocked command (UNBLOCKED). Trying again later
# may succeed, and cannot do the command twice.
CANNOT_SERVE_CODES = frozenset(
    {
        "BUSY",
        "LOADING",
        "OOM",
        "READONLY",
        "MASTERDOWN",
        "MISCONF",
        "NOREPLICAS",
        "TRYAGAIN",
        "CLUSTERDOWN",
        "UNBLOCKED",
    }
)
# A Lua script's call refused so (Redis 6): "Error running script (...): @user_script:3:
# @user_script: 3: -OOM command not allowed...". Redis 7 starts the reply with the code.
SCRIPT_CALL_REFUSED = re.compile(r"^Error running script .*?: -([A-Z]+) ")
# What redis-py puts before the error of a pipeline's command.
PIPELINE_COMMAND = re.compile(r"^Command # \d+ \(.*?\) of pipeline caused error: ", re.DOTALL)


class CannotServeNow(redis.ResponseError):
    """A reply error of CANNOT_SERVE_CODES that redis-py has no class of its own for (BUSY,
    MISCONF, NOREPLICAS, a script's call refused): raised by our clients (see
    ReplyErrorParser), so that `except RETRYABLE` catches it."""


# redis-py's own classes of such errors (LOADING's, BusyLoadingError, is a ConnectionError);
# and ours for a replica where a primary was expected, and a write its replicas lack.
CANNOT_SERVE_CLASSES = (
    CannotServeNow,
    ReplicaError,
    NotReplicated,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterDownError,  # MasterDownError is one
    redis.exceptions.TryAgainError,
)

# Errors worth retrying: the server is away, restarting, still loading its data, or says
# it cannot serve now.
RETRYABLE = (redis.ConnectionError, redis.TimeoutError, OSError, *CANNOT_SERVE_CLASSES)


def reply_code(error):
    """The code of a reply error ("BUSY", "OOM", "WRONGTYPE"), or None: for a refused call
    of a Lua script, the code of that call's error (Redis 6 wraps it in an ERR); else
    redis-py's status_code where it took the code off the text, else the text's first word."""
    text = PIPELINE_COMMAND.sub("", str(error))
    refused = SCRIPT_CALL_REFUSED.match(text)
    if refused:
        return refused.group(1)
    code = getattr(error, "status_code", None)
    if code:
        return code
    first = text.split(" ", 1)[0]
    return first if first.isupper() else None


def cannot_serve_now(error):
    """True for a reply error by which Redis says it cannot serve now (see
    CANNOT_SERVE_CODES), from any redis-py client, ours or not."""
    if isinstance(error, (*CANNOT_SERVE_CLASSES, redis.BusyLoadingError)):
        return True
    return isinstance(error, redis.ResponseError) and reply_code(error) in CANNOT_SERVE_CODES


class ReplyErrorParser(redis.connection.DefaultParser):
    """redis-py's parser, raising CannotServeNow for the reply errors of CANNOT_SERVE_CODES
    that it raises as a plain ResponseError."""

    @classmethod
    def parse_error(cls, response):
        error = super().parse_error(response)
        if type(error) is redis.ResponseError and cannot_serve_now(error):
            return CannotServeNow(*error.args, status_code=reply_code(error))
        return error


class FatalRedisError(Exception):
    """An error retrying cannot fix; its line has been printed. The script exits 1."""


class Stopped(Exception):
    """A stop was requested while waiting for Redis."""


def configured_url():
    """$REDIS_URL, else redis://localhost:6379/0, as it is."""
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


def redis_url():
    """Where Redis is: $REDIS_URL, else redis://localhost:6379/0. A URL that redis-py cannot
    read is said in the spec's line, once, on stdout, and ends the script with exit code 1
    (FatalRedisError): retrying cannot fix it."""
    url = configured_url()
    try:
        parse_sentinel_url(url) if is_sentinel_url(url) else redis.connection.parse_url(url)
    except (ValueError, TypeError) as error:
        give_up(error, quiet=False)
    return url


def is_sentinel_url(url):
    return url.partition("://")[0].lower() == SENTINEL_SCHEME


@dataclass(frozen=True)
class SentinelURL:
    """What a Sentinel URL says: the Sentinels, the service they watch, the database, and
    the primary's (and replicas') user and password."""

    sentinels: tuple  # ((host, port), ...)
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None


def parse_sentinel_url(url):
    """The SentinelURL of `url`, or ValueError saying what is wrong with it."""

    def wrong(why):
        return ValueError(f"{why}: a Sentinel URL is {SENTINEL_URL}")

    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise wrong("it takes no ?options or #fragment")
    credentials, _, hosts = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    sentinels = tuple(sentinel_address(each, wrong) for each in hosts.split(","))
    path = parts.path.split("/")[1:]
    if not path or not path[0] or len(path) > 2:
        raise wrong("it names no service" if not path or not path[0] else "too many parts after the service")
    db = path[1] if len(path) == 2 and path[1] else "0"
    if not db.isdigit():
        raise wrong(f"the database is not a number ({db!r})")
    return SentinelURL(
        sentinels, unquote(path[0]), int(db), unquote(username) or None, unquote(password) or None
    )


def sentinel_address(text, wrong):
    """(host, port) of one HOST[:PORT] of a Sentinel URL (an IPv6 host in brackets)."""
    host, port = text, str(SENTINEL_PORT)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise wrong(f"no Sentinel at {text!r}")
            port = rest[1:]
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise wrong(f"no Sentinel at {text!r}")
    return host, int(port)


def url_password(url):
    """The password in a URL, even one too malformed for redis-py to parse."""
    match = re.match(r"^[^:/]*://[^:@/]*:([^@/]*)@", url)
    if match:
        return match.group(1)
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def describe(error, url=None):
    """The error's message with any password of REDIS_URL masked; a reply error of a Redis
    that cannot serve now with its code ("OOM command not allowed...": redis-py takes the
    code off)."""
    text = str(error) or type(error).__name__
    if cannot_serve_now(error):
        text = PIPELINE_COMMAND.sub("", text)  # which command of a batch: none was run
        refused = SCRIPT_CALL_REFUSED.match(text)
        if refused:  # the refused call's own error, from its code on
            text = text[refused.start(1) :]
        code = reply_code(error)
        if code and not text.startswith(code):
            text = f"{code} {text}"
    password = url_password(url or configured_url())
    for secret in {password, unquote(password or "")} - {None, ""}:
        text = text.replace(secret, "***")
    return text


def is_fatal(error):
    """True for errors a retry cannot fix: a bad URL, a refused password or command, a
    certificate that does not verify. Not a Redis that says it cannot serve now (BUSY, OOM,
    READONLY...): that is retried, as a lost connection is."""
    if cannot_serve_now(error):
        return False
    if isinstance(error, (redis.AuthenticationError, redis.ResponseError, ValueError, TypeError)):
        return True
    cause = error.__cause__ or error.__context__
    return isinstance(cause, ssl.SSLCertVerificationError)


def not_connected(error):
    """The spec's line for a failed connection: `Redis client not connected to the server:
    ERROR`, any password of REDIS_URL masked."""
    if isinstance(error, (ValueError, TypeError)):  # what redis-py raises for a malformed URL
        return NOT_CONNECTED.format(error=f"REDIS_URL is not valid: {describe(error)}")
    return NOT_CONNECTED.format(error=describe(error))


def worth_retrying(error):
    """True if trying again may help (the server is away, restarting, still loading, says
    it cannot serve now); False for a wrong password, a malformed REDIS_URL, a refused
    command. Any redis-py client's errors, ours or not."""
    return (isinstance(error, RETRYABLE) or cannot_serve_now(error)) and not is_fatal(error)


class InvalidURLClient:
    """Stands in for the client of a REDIS_URL redis-py cannot parse, so that importing a
    script never fails: its first use raises the parse error, which is fatal."""

    def __init__(self, error):
        self.error = error

    def __getattr__(self, name):
        raise ValueError(self.error)

    def close(self):
        pass  # nothing was opened: a script's cleanup goes on to say the error

    async def aclose(self):
        pass

    async def __aenter__(self):  # `async with` it: its first command says the error
        return self

    async def __aexit__(self, *exc_info):
        pass


def command_retry():
    return Retry(ExponentialBackoff(cap=0.1, base=0.01), COMMAND_RETRIES)


def handshake_options():
    """What our clients' connections say as they open: HELLO alone. redis-py 8 follows it
    with CLIENT MAINT_NOTIFICATIONS (Redis Enterprise's maintenance news: not ours) and two
    CLIENT SETINFO, each waiting for its reply: four round trips before a new connection's
    first command, and a connection killed every few milliseconds on a loaded host
    (tests/resilience/test_connection_kills.py) seldom lived to send it. Both are off by
    redis-py's documented options."""
    return {"driver_info": None, "maint_notifications_config": MaintNotificationsConfig(enabled=False)}


def make_client(url=None, decode_responses=True, asynchronous=False, **options):
    """A client for REDIS_URL (or `url`), with the spec's retries and errors: the one client
    factory of the package. redis-py's Redis.from_url, or for a Sentinel URL
    Sentinel(...).master_for(service), whose connections find the primary through the
    Sentinels. Nothing is sent until the first command. `options` are redis-py's (a
    socket_timeout, say). Its writes that the package acknowledges wait for the primary's
    replicas (replication.py); a replica's READONLY drops the connection.

    RQ needs `decode_responses=False` (bytes); the apps read text. `asynchronous`: a
    redis.asyncio client instead (async_client).
    """
    url = url or configured_url()
    if asynchronous:
        return async_client(url, decode_responses)
    settings = dict(
        decode_responses=decode_responses,
        retry=command_retry(),
        parser_class=ReplyErrorParser,  # BUSY, MISCONF... raised as CannotServeNow
        **handshake_options(),
        **command_packer.connection_options(),
        **options,
    )
    try:
        if is_sentinel_url(url):
            return sentinel_client(parse_sentinel_url(url), settings)
        client = redis.Redis.from_url(url, **settings)
    except (ValueError, TypeError) as error:
        return InvalidURLClient(describe(error, url))
    pool = client.connection_pool
    pool.connection_class = primary_class(pool.connection_class)
    pool.connection_kwargs["replicas"] = plain_replicas(url)
    return client


def sentinel_client(where, settings):
    """Sentinel(...).master_for(service) of the SentinelURL `where`, as make_client's."""
    sentinel = sentinel_of(where)
    return sentinel.master_for(
        where.service,
        connection_class=primary_class(redis.sentinel.SentinelManagedConnection),
        replicas=sentinel_replicas(where, sentinel),
        db=where.db,
        username=where.username,
        password=where.password,
        **{"socket_connect_timeout": CONNECT_WITHIN, **settings},  # a caller's own wins
    )


# Per process, per URL: the Sentinels asked, and the replicas writes wait for.
SENTINELS = {}
REPLICAS = {}
PRIMARY_CLASSES = {}


def sentinel_of(where):
    key = where.sentinels
    if key not in SENTINELS:
        timeouts = dict(socket_timeout=SENTINEL_TIMEOUT, socket_connect_timeout=SENTINEL_TIMEOUT)
        SENTINELS[key] = redis.sentinel.Sentinel(list(where.sentinels), sentinel_kwargs=timeouts)
    return SENTINELS[key]


def sentinel_replicas(where, sentinel):
    key = (where.sentinels, where.service)
    if key not in REPLICAS:
        nodes = dict(username=where.username, password=where.password)
        REPLICAS[key] = SentinelReplicas(sentinel, where.service, nodes)
    return REPLICAS[key]


def plain_replicas(url):
    parts = urlsplit(url)
    key = f"{parts.scheme}://{parts.netloc}"  # one per server
    if key not in REPLICAS:
        REPLICAS[key] = PlainReplicas()
    return REPLICAS[key]


def primary_class(connection_class):
    """`connection_class` (redis-py's, chosen by the URL) with PrimaryOnly mixed in: before
    redis-py's Connection, after the Sentinel's managed connection. A plain TCP one says so
    (`plain_tcp`), so that an app's server may make it connect through its own sockets
    (web/greenlet_io.py) without this floor knowing of it."""
    if connection_class not in PRIMARY_CLASSES:
        bases = (PrimaryOnly, connection_class)
        if issubclass(connection_class, redis.sentinel.SentinelManagedConnection):
            bases = (connection_class, SentinelPrimaryOnly, PrimaryOnly, redis.Connection)
        tcp = issubclass(connection_class, redis.Connection)
        plain_tcp = tcp and not issubclass(connection_class, redis.SSLConnection)
        made = type(
            f"Primary{connection_class.__name__}", bases, {"__module__": __name__, "plain_tcp": plain_tcp}
        )
        PRIMARY_CLASSES[connection_class] = made
    return PRIMARY_CLASSES[connection_class]


def async_client(url, decode_responses=True):
    """A redis.asyncio client for `url`: redis.asyncio's Redis.from_url, or for a Sentinel
    URL its Sentinel(...).master_for(service). Nothing is sent until the first command."""
    try:
        if not is_sentinel_url(url):
            return redis.asyncio.Redis.from_url(url, decode_responses=decode_responses)
        where = parse_sentinel_url(url)
        timeouts = dict(socket_timeout=SENTINEL_TIMEOUT, socket_connect_timeout=SENTINEL_TIMEOUT)
        sentinel = redis.asyncio.sentinel.Sentinel(list(where.sentinels), sentinel_kwargs=timeouts)
        return sentinel.master_for(
            where.service,
            db=where.db,
            username=where.username,
            password=where.password,
            socket_connect_timeout=CONNECT_WITHIN,
            decode_responses=decode_responses,
        )
    except (ValueError, TypeError) as error:
        return InvalidURLClient(describe(error, url))


def retry_delays():
    """Seconds to wait before each next try: 0.1, then twice as long each time, up to 2."""
    delay = FIRST_RETRY_DELAY
    while True:
        yield delay
        delay = min(delay * 2, MAX_RETRY_DELAY)


# The request an app's server is answering, where the caller is one (the web sets it for
# each greenlet that answers requests: web/round_trips.py); None elsewhere. Its Redis
# commands are tried again only while `request.may_wait(seconds)` says a try after that
# long still comes before its deadline, and `request.sleep(seconds)` waits while the server
# answers the other requests.
current_request = ContextVar("current_request", default=None)


def until_answered(command, attempts=ANSWER_ATTEMPTS, within=ANSWER_WITHIN, margin=0.0):
    """`command()`, tried again while the connection drops, for a read or for a write that
    is safe to repeat: a Lua script that keeps its answer under a receipt key, so that a
    second try of a write Redis had already done gets the first answer instead of doing it
    again. Gives up after `attempts` tries and `within` seconds, whichever comes last
    (`within` None: outside a request, never while Redis is away or failing over
    (failing_over): a creator waits out a failover as it waits for Redis to start, said on
    stderr once per outage; a refusal, OOM say, as for any `within`); in an app's request
    (current_request), when a try would come later than `margin` seconds before its
    deadline, and waiting there lets the server answer the other requests."""
    give_up_at = None if within is None else time.monotonic() + within
    attempt = 0
    said = False
    while True:
        attempt += 1
        try:
            answer = command()
        except RETRYABLE as error:
            delay = FIRST_RETRY_DELAY * min(attempt, 5)
            if give_up_at is None and not failing_over(error):
                give_up_at = time.monotonic() + ANSWER_WITHIN  # a refusal: as long as ever
            late = give_up_at is not None and attempt >= attempts and time.monotonic() >= give_up_at
            request = current_request.get()
            # In a request, a try that late would come too late for its client (or for
            # Redis: a reservation refuses itself past its margin): the error is the answer.
            if late or is_fatal(error) or (request is not None and not request.may_wait(delay + margin)):
                raise
            if within is None and request is None and failing_over(error):
                outage.lost(error)
                said = True
            (time.sleep if request is None else request.sleep)(delay)
        else:
            if said:
                outage.back(wrote=True)
            return answer


# Reply errors of a Redis in a failover: a replica (a demoted primary), a replica cut off
# from its primary, a primary short of replicas, a replica loading its new primary's data.
FAILOVER_CODES = frozenset({"READONLY", "UNBLOCKED", "MASTERDOWN", "NOREPLICAS", "LOADING"})


def failing_over(error):
    """Whether `error` says Redis is away or failing over (a lost connection, a replica's
    answer...), not that it refuses (OOM, BUSY...)."""
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError, OSError)):
        return True
    return reply_code(error) in FAILOVER_CODES


def trouble_line(error):
    """A quiet script's line on stderr for `error`: the spec's not-connected line, or, for
    a Redis that answers it cannot serve now, `Redis cannot serve now: BUSY Redis is busy...`."""
    if isinstance(error, ReplicaError):
        return f"{describe(error)}: waiting for a primary"
    if isinstance(error, NotReplicated):  # says what it is, and that it tries again
        return describe(error)
    if cannot_serve_now(error):
        return f"{CANNOT_SERVE}: {describe(error)}"
    return NOT_CONNECTED.format(error=describe(error))


class Outage:
    """A process's news about Redis on stderr: one line when it is lost (or says it cannot
    serve now: BUSY, OOM...), a reminder at growing intervals while that lasts, one line
    when it is back. Thread-safe: a worker, its outbox and an app's threads share it.

    Under OOM or READONLY (WRITES_REFUSED), reads go on while writes are refused: a read's
    success then says nothing of the writes. So such an outage ends only once no write has
    been refused for REFUSALS_QUIET seconds; without that, a reader and a writer taking
    turns would print a line each."""

    def __init__(self):
        self.lock = threading.Lock()
        self.since = None
        self.refused = False  # the outage began with a reply error (see cannot_serve_now)
        self.last_write_refused = 0.0
        self.confirming = None  # a timer that ends the outage once writes are quiet (see back)
        self.next_reminder = 0.0
        self.interval = FIRST_REMINDER
        self.on_lost = None  # called as each outage begins (metrics.py counts them), or None

    def lost(self, error):
        now = time.monotonic()
        refused = cannot_serve_now(error)
        with self.lock:
            if refused and reply_code(error) in WRITES_REFUSED:
                self.last_write_refused = now
            if self.since is None:
                self.since, self.refused, self.interval = now, refused, FIRST_REMINDER
                line = trouble_line(error)
                if self.on_lost is not None:
                    self.on_lost()
            elif now >= self.next_reminder:
                self.interval = min(self.interval * 2, LAST_REMINDER)
                still = "Redis still cannot serve" if self.refused else "Redis client still not connected"
                line = f"{still} after {now - self.since:.0f}s: {describe(error)}"
            else:
                return
            self.next_reminder = now + self.interval
        warn(line)

    def back(self, wrote=False):
        """Redis answered: the outage is over, at once if what it answered was a write
        (`wrote`), else once no write has been refused for REFUSALS_QUIET seconds."""
        now = time.monotonic()
        with self.lock:
            if self.since is None:
                return
            quiet_for = 0 if wrote else self.last_write_refused + REFUSALS_QUIET - now
            if quiet_for > 0:  # a write was refused a moment ago: look again once quiet
                if self.confirming is None:
                    self.confirming = threading.Timer(quiet_for, self.confirm_back)
                    self.confirming.daemon = True
                    self.confirming.start()
                return
            away, self.since = now - self.since, None
            back = SERVING_AGAIN if self.refused else f"{CONNECTED} again"
        warn(f"{back} after {away:.1f}s")

    def confirm_back(self):
        with self.lock:
            self.confirming = None
        self.back()

    def waited(self):
        """Seconds since Redis was lost, or None while it answers."""
        with self.lock:
            return None if self.since is None else time.monotonic() - self.since


outage = Outage()


# Seconds a stopping process still waits for Redis: its whole stop must fit in the 5 s the
# spec allows.
STOP_PATIENCE = 2.0


def keep_trying(
    action, stopping=None, patience=None, stop_patience=STOP_PATIENCE, writes=False, answers=True
):
    """`action()`, done again while Redis cannot serve it (worth_retrying: away, restarting,
    still loading), after each of retry_delays(), said on stderr once per outage (`outage`).
    The one retry loop of the package's long-running parts: what retrying cannot fix is
    raised at once; the last error is raised after `patience` seconds (None: never) and,
    once `stopping` (a threading.Event) is set, after `stop_patience` more seconds at most.
    `writes`: the action writes, so its answer ends an outage of refused writes at once.
    `answers`: the action's return says Redis answered (not so for a whole worker's run,
    which returns also when it gave up on Redis as it stopped)."""
    try:  # the first try, as most are: no more than the call
        result = action()
    except Exception as error:
        if not worth_retrying(error):
            raise
        result = tried_again(action, error, stopping, patience, stop_patience)
    if answers and outage.since is not None:
        outage.back(writes)
    return result


def tried_again(action, error, stopping, patience, stop_patience):
    """keep_trying's tries after the first failed with `error`."""
    give_up_at = None if patience is None else time.monotonic() + patience
    stop_at = None
    for delay in retry_delays():
        outage.lost(error)
        now = time.monotonic()
        if stopping is not None and stopping.is_set():
            stop_at = now + stop_patience if stop_at is None else stop_at
            give_up_at = stop_at if give_up_at is None else min(give_up_at, stop_at)
        if give_up_at is not None and now >= give_up_at:
            raise error
        wait = delay if give_up_at is None else min(delay, give_up_at - now)
        if stopping is None or stopping.is_set():
            time.sleep(wait)
        else:
            stopping.wait(wait)  # a stop asked for meanwhile is seen at once
        try:
            result = action()
        except Exception as next_error:
            if not worth_retrying(next_error):
                raise
            error = next_error
        else:
            return result
    return None  # retry_delays() never ends


def give_up(error, quiet):
    """Print the not-connected line for an error retrying cannot fix, once; raise FatalRedisError."""
    (warn if quiet else say)(not_connected(error))
    raise FatalRedisError(describe(error)) from None


def pause(delay, stopping=None):
    """Sleep `delay` seconds, or until `stopping` (a threading.Event) is set: then raise Stopped."""
    if stopping is None:
        time.sleep(delay)
    elif stopping.wait(delay):
        raise Stopped()


def wait_until_connected(client, quiet=False, stopping=None):
    """Ping until the server answers, printing the spec's line for every failed attempt.

    `quiet` is for the job and web scripts: failures go to stderr once per outage, and
    success says nothing. A set `stopping` event ends the wait with Stopped.
    """
    for delay in retry_delays():
        try:
            client.ping()
        except Exception as error:
            if is_fatal(error):
                give_up(error, quiet)
            if not worth_retrying(error):
                raise
            if quiet:
                outage.lost(error)
            else:
                say(NOT_CONNECTED.format(error=describe(error)))
            pause(delay, stopping)
        else:
            if quiet:
                outage.back()
                warn_if_evicting(client)
            else:
                say(CONNECTED)
            return client


# BullMQ refuses to run on a Redis that evicts; Sidekiq's docs ask for noeviction too.
EVICTING = (
    "Redis evicts keys when it is full (maxmemory-policy {policy}): jobs, their events and the "
    "apps' stock can vanish. Set maxmemory-policy noeviction (redis-cli config set "
    "maxmemory-policy noeviction, and in redis.conf)"
)
evicting_checked = threading.Event()  # once per process (and its forked children)


def warn_if_evicting(client):
    """Say once, on stderr, if Redis's maxmemory-policy evicts keys (a job's hash, its
    events, an item's stock) when it is full, instead of refusing writes (noeviction). A
    Redis that does not tell (INFO refused) is taken at its word."""
    if evicting_checked.is_set():
        return
    evicting_checked.set()
    try:
        policy = client.info("memory").get("maxmemory_policy")
    except redis.RedisError:
        return
    if isinstance(policy, bytes):
        policy = policy.decode(errors="replace")
    if policy and policy != "noeviction":
        warn(EVICTING.format(policy=policy))


async def wait_until_connected_async(client):
    """wait_until_connected for a redis.asyncio client: PING until the server answers."""
    for delay in retry_delays():
        try:
            await client.ping()
        except Exception as error:
            if is_fatal(error):
                give_up(error, quiet=False)
            if not worth_retrying(error):
                raise
            say(NOT_CONNECTED.format(error=describe(error)))
            await asyncio.sleep(delay)
        else:
            say(CONNECTED)
            return client
