"""The HTTP/1.1 server both apps run on: asyncio holds the connections, httptools (the
parser under uvicorn, bindings to Node's llhttp) reads the bytes, and the WSGI app is
called on the one thread that runs the event loop, each connection's requests in a
greenlet of their own (see round_trips.py).

Why a server of our own: every answer must be JSON, the answer to a request no server can
parse included, and the servers we tried answer those themselves (Werkzeug and the stdlib
with HTML, Granian with an empty 4xx). Here a client costs a socket, not a thread: 2,000
slow clients wait in the event loop without denying service to the others, and a stop
takes milliseconds whatever is connected.

No threads: each of our views is one short Redis command, and a thread per request would
only add switches under the GIL. A request waiting for Redis lets the others be read, and
their commands go out together (round_trips.py); anything else the app does holds the loop.
"""

import asyncio
import io
import logging
import os
import signal
import socket
import sys
import time
import traceback
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import unquote_to_bytes

import greenlet
import httptools

from ..console import debug, debugging, printable, warn
from ..logs import access_logger, log_access
from ..shutdown import STOP_SIGNALS
from .greenlet_io import REDIS_WAIT
from .round_trips import RoundTrips

BACKLOG = 4096  # connections the kernel holds before the server takes them
MAX_URL = 8 * 1024  # bytes; beyond: 414
MAX_HEADERS = 100  # beyond: 431
MAX_HEAD = 64 * 1024  # bytes of request line and headers; beyond: 431
MAX_BODY = 1024 * 1024  # bytes; beyond: 413
REQUEST_TIMEOUT = 5.0  # seconds a request may take to arrive, from its first byte: then 408
KEEP_ALIVE_TIMEOUT = 5.0  # seconds an idle connection is kept (Node's and uvicorn's default)
LINGER_TIMEOUT = 2.0  # seconds a refused client may keep sending before it is cut off
FLUSH_TIMEOUT = 1.0  # seconds a stop waits for answers already written to reach their clients
# Each connection's timeout is a deadline that one timer checks this often: a timer per
# connection, set and cancelled twice a request, cost 7% of a request's CPU.
DEADLINE_TICK = 0.25  # seconds
ACCEPT_BATCH = 4  # connections one process takes per wake-up
ACCEPT_PAUSE = 1.0  # seconds without accepting after accept() failed (no file descriptor left)
SUPPORTED_VERSIONS = ("1.0", "1.1")
# Flow control (uvicorn's flow_control.py is the model). A connection's answers waiting
# to be sent beyond HIGH_WATER bytes pause its answering and its reading until they drop
# to a quarter of it (asyncio's low-water mark); one stalled so for SEND_TIMEOUT seconds
# is cut off. Of its requests, at most READ_AHEAD are read ahead of their answers; the
# bytes after them wait unparsed, and its reading pauses: a client pipelining without
# reading costs a few hundred KB, not all it sends.
HIGH_WATER = 64 * 1024  # bytes
SEND_TIMEOUT = 10.0  # seconds
READ_AHEAD = 32  # requests
FEED_SLICE = 16 * 1024  # bytes parsed at a time, so that reading stops near READ_AHEAD
# A connection's requests answered in a row without a pause (none waiting for Redis) let
# the event loop serve the others, and see the client gone, after this many.
ANSWERED_IN_A_ROW = 16
ACCESS = access_logger()  # on with --access-log (logs.py)


class Refused(Exception):
    """A request refused before it reached the app, with the status to answer."""

    def __init__(self, status):
        super().__init__(status.phrase)
        self.status = status


def error_body(status):
    return b'{"error":"%s"}' % status.phrase.encode()


class Clock:
    """The Date header, formatted once a second rather than once a request."""

    def __init__(self):
        self.second = None
        self.value = b""

    def date(self):
        now = int(time.time())
        if now != self.second:
            self.second, self.value = now, formatdate(now, usegmt=True).encode()
        return self.value


class Server:
    """What every connection shares: the app, where we listen, the open connections."""

    def __init__(self, app, host, port, multiprocess=False):
        self.app = app
        self.host, self.port = host, port
        self.multiprocess = multiprocess  # other processes serve the same app
        self.connections = set()
        self.clock = Clock()
        self.loop = None
        self.round_trips = RoundTrips()  # its requests' Redis commands are sent together
        self.serving = False  # its loop serves connections until a stop ends it (see Stops)

    def in_app(self):
        """The app is running a request, or its sender of Redis commands runs."""
        return greenlet.getcurrent() is not self.round_trips.hub

    def connection(self):
        return Connection(self)

    def check_deadlines(self):
        """Every DEADLINE_TICK, call back the connections whose deadline has passed."""
        self.loop.call_later(DEADLINE_TICK, self.check_deadlines)  # first: a callback may raise
        now = self.loop.time()
        for connection in [c for c in self.connections if c.deadline is not None and c.deadline <= now]:
            callback = connection.on_deadline
            connection.disarm()
            callback()

    def base_environ(self):
        return {
            "SCRIPT_NAME": "",
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.port),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": self.multiprocess,
            "wsgi.run_once": False,
        }


class Request:
    __slots__ = ("method", "url", "version", "headers", "body", "keep_alive")

    def __init__(self):
        self.method = None  # set once its headers are complete
        self.url = b""
        self.headers = []
        self.body = []


class Connection(asyncio.Protocol):
    """One client's connection: its requests parsed as bytes arrive, answered in order."""

    def __init__(self, server):
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport = None
        self.peer = ("", 0)
        self.request = None  # the one being read
        self.ready = []  # read in full, not yet answered
        self.head_arrived = 0  # bytes received while the request's head was being read
        self.header_bytes = 0
        self.body_bytes = 0
        self.deadline = None  # loop time at which on_deadline is called (see arm)
        self.on_deadline = None
        self.closing = False
        self.answering = False  # its requests are being answered (in a greenlet: see answer)
        self.refused = None  # the status to refuse the stream with, once those are answered
        self.ended = False  # the client is done sending: close once answered
        self.unparsed = b""  # bytes received beyond READ_AHEAD requests (see read_ahead)
        self.read_paused = False
        self.write_paused = False  # its answers wait unsent beyond HIGH_WATER (see FlowControl)
        self.parked = None  # its answering greenlet, waiting for the answers to drain
        self.answerer = None  # its answering greenlet, while it answers

    # asyncio's side

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER)
        self.peer = transport.get_extra_info("peername") or ("", 0)
        self.server.connections.add(self)
        self.arm(KEEP_ALIVE_TIMEOUT, self.close)

    def connection_lost(self, exc):
        self.server.connections.discard(self)
        self.disarm()
        self.closing = True
        self.ready.clear()  # nobody to answer: the client is gone
        self.unparsed = b""
        if self.answerer is not None:
            self.server.round_trips.cancel(self.answerer)  # its Redis command, if unsent
        self.unpark()

    def pause_writing(self):
        """asyncio's call: the answers waiting unsent passed HIGH_WATER. Answer and read no
        more until they drain, for up to SEND_TIMEOUT seconds."""
        self.write_paused = True
        self.pause_reading()
        self.arm(SEND_TIMEOUT, self.cut_off)

    def resume_writing(self):
        self.write_paused = False
        self.arm(KEEP_ALIVE_TIMEOUT, self.close)
        self.read_ahead()
        self.unpark()

    def pause_reading(self):
        if not self.read_paused and not self.closing:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self):
        if self.read_paused and not self.closing:
            self.read_paused = False
            self.transport.resume_reading()

    def cut_off(self):
        debug(f"{self.peer} read no answer for {SEND_TIMEOUT}s: cut off")
        self.closing = True
        self.transport.abort()

    def unpark(self):
        """Let its answering greenlet, waiting for the answers to drain, go on (from the
        event loop's callbacks: asyncio calls resume_writing and connection_lost there)."""
        parked, self.parked = self.parked, None
        if parked is not None:
            parked.switch()

    def data_received(self, data):
        """Parse what came, FEED_SLICE at a time, up to READ_AHEAD requests waiting for
        their answers; the rest waits unparsed, and reading pauses (see read_ahead)."""
        if self.unparsed:
            self.unparsed += data
            return
        for start in range(0, len(data), FEED_SLICE):
            if len(self.ready) >= READ_AHEAD:
                self.unparsed = data[start:]
                self.pause_reading()
                break
            self.feed(data[start : start + FEED_SLICE])
        self.answer_ready()

    def read_ahead(self):
        """Its answers drained, or a request answered: parse what waits, and read again."""
        if self.closing or self.write_paused or len(self.ready) >= READ_AHEAD:
            return
        data, self.unparsed = self.unparsed, b""
        if data:
            self.data_received(data)
        if not self.unparsed:
            self.resume_reading()

    def feed(self, data):
        if self.closing or self.refused is not None:
            return
        if self.request is not None and self.parser_in_head():
            self.head_arrived += len(data)
        refused = None
        try:
            self.parser.feed_data(data)
            if self.request is not None and self.parser_in_head() and self.head_arrived > MAX_HEAD:
                raise Refused(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
        except httptools.HttpParserUpgrade:
            # An Upgrade we do not offer: its request is answered as any other, then the
            # connection closed, since what follows on the stream need not be HTTP/1.1.
            if self.ready:
                self.ready[-1].keep_alive = False
            else:
                refused = HTTPStatus.BAD_REQUEST
        except httptools.HttpParserCallbackError as error:
            cause = error.__context__
            refused = cause.status if isinstance(cause, Refused) else HTTPStatus.BAD_REQUEST
        except httptools.HttpParserError as error:
            debug(f"unparsable request from {self.peer}: {error}")
            refused = HTTPStatus.BAD_REQUEST
        except Refused as error:
            refused = error.status
        if refused is not None:
            self.refused = refused  # after those that came in full before it

    def eof_received(self):
        # The client is done sending: a request it left unfinished is never served (a
        # reservation for a client gone); answers already written still reach it.
        self.request = None
        if self.answering:
            self.ended = True  # closed once answered
            return True
        return False  # close once written

    # httptools' side: each raises Refused to stop reading a request we will not serve

    def on_message_begin(self):
        self.request = Request()
        self.head_arrived = self.header_bytes = self.body_bytes = 0
        self.arm(REQUEST_TIMEOUT, self.too_slow)

    def on_url(self, part):
        self.request.url += part
        if len(self.request.url) > MAX_URL:
            raise Refused(HTTPStatus.REQUEST_URI_TOO_LONG)

    def on_header(self, name, value):
        request = self.request
        request.headers.append((name, value))
        self.header_bytes += len(name) + len(value)
        if len(request.headers) > MAX_HEADERS or self.header_bytes > MAX_HEAD:
            raise Refused(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)

    def on_headers_complete(self):
        request = self.request
        request.method = self.parser.get_method().decode("latin-1")
        request.version = self.parser.get_http_version()
        request.keep_alive = self.parser.should_keep_alive()
        if request.version not in SUPPORTED_VERSIONS:
            raise Refused(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED)
        if request.version == "1.1" and self.header(b"expect", b"").lower() == b"100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, part):
        self.body_bytes += len(part)
        if self.body_bytes > MAX_BODY:
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        self.request.body.append(part)

    def on_message_complete(self):
        self.ready.append(self.request)
        self.request = None
        self.arm(KEEP_ALIVE_TIMEOUT, self.close)

    # Answering

    def parser_in_head(self):
        return self.request.method is None

    def header(self, name, default):
        for key, value in self.request.headers:
            if key.lower() == name:
                return value
        return default

    def answer_ready(self):
        if not self.answering and (self.ready or self.refused is not None):
            self.server.round_trips.start(self.answer)

    def answer(self):
        """Answer the requests read, in order, then the refusal if any: in a greenlet of
        its own, which waits while the app's Redis commands go out with others'."""
        self.answering = True
        self.answerer = greenlet.getcurrent()
        in_a_row = 0
        try:
            while self.ready and self.open():
                if self.write_paused:
                    self.wait_for_drain()
                    continue
                in_a_row += 1
                if in_a_row > ANSWERED_IN_A_ROW:
                    in_a_row = 0
                    self.let_others_be_served()
                    continue
                request = self.ready.pop(0)
                status, headers, body = self.call_app(request)
                if not self.open():
                    return  # the client left while its request was answered
                if ACCESS.isEnabledFor(logging.INFO):  # --access-log: said before the answer goes,
                    self.log_access(request, status, body)  # so a stop right after it cannot lose it
                self.write(status, headers, body, request.keep_alive, request.method == "HEAD")
                if not request.keep_alive:
                    self.close()
                self.read_ahead()
            if self.refused is not None:
                self.refuse(self.refused)
        finally:
            self.answering, self.answerer = False, None
            if self.ended and not self.closing:
                self.close()

    def log_access(self, request, status, body):
        target = printable(request.url.decode("latin-1"))  # a client's bytes: no forged lines
        log_access(self.peer[0], request.method, target, request.version, status.split(" ", 1)[0], len(body))

    def open(self):
        """Neither closed by us nor gone: asyncio marks a transport closing at once when a
        write finds the client reset, before connection_lost is called."""
        return not self.closing and not self.transport.is_closing()

    def wait_for_drain(self):
        """In its answering greenlet: wait until the answers sent drop below the low-water
        mark (resume_writing) or the connection ends."""
        self.parked = greenlet.getcurrent()
        self.server.round_trips.hub.switch()

    def let_others_be_served(self):
        """In its answering greenlet: let the event loop run its other callbacks once (other
        connections' reads, this one's reset), then go on."""
        self.server.loop.call_soon(greenlet.getcurrent().switch)
        self.server.round_trips.hub.switch()

    def call_app(self, request):
        try:
            environ = self.environ(request)
        except Refused as refused:
            return self.error_response(refused.status)
        started = []

        def start_response(status, headers, exc_info=None):
            started[:] = [status, headers]

        answering = greenlet.getcurrent()
        answering.deadline = time.monotonic() + REDIS_WAIT  # its Redis commands' (greenlet_io)
        answering.heard_redis = False
        try:  # a stop now is raised at once (see Stops)
            result = self.server.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception as error:  # the app's own handlers answer its errors: not this
            if debugging():
                traceback.print_exc()
            warn(f"the app failed on {request.method} {request.url[:200]!r}: {error!r}")
            return self.error_response(HTTPStatus.INTERNAL_SERVER_ERROR)
        finally:
            answering.deadline = None
        return started[0], started[1], body

    def environ(self, request):
        try:
            url = httptools.parse_url(request.url)
        except httptools.HttpParserInvalidURLError:
            raise Refused(HTTPStatus.BAD_REQUEST) from None
        environ = self.server.base_environ()
        environ["REQUEST_METHOD"] = request.method
        environ["PATH_INFO"] = unquote_to_bytes(url.path or b"/").decode("latin-1")
        environ["QUERY_STRING"] = (url.query or b"").decode("latin-1")
        environ["SERVER_PROTOCOL"] = "HTTP/" + request.version
        environ["REMOTE_ADDR"] = str(self.peer[0])
        environ["REMOTE_PORT"] = str(self.peer[1])
        environ["wsgi.input"] = io.BytesIO(b"".join(request.body))
        for name, value in request.headers:
            key = name.decode("latin-1").upper()
            if "_" in key:
                continue  # X_Forwarded would pass for X-Forwarded: drop, as Werkzeug does
            key = key.replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            value = value.decode("latin-1")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def error_response(self, status):
        body = error_body(status)
        return f"{status.value} {status.phrase}", [("Content-Type", "application/json")], body

    def write(self, status, headers, body, keep_alive, head_only=False):
        if self.transport.is_closing():
            return  # the client is gone: asyncio would log a warning for each write
        lines = [b"HTTP/1.1 ", status.encode("latin-1"), b"\r\n"]
        has_length = False
        for name, value in headers:
            has_length = has_length or name.lower() == "content-length"
            lines += [name.encode("latin-1"), b": ", value.encode("latin-1"), b"\r\n"]
        if not has_length:
            lines.append(b"Content-Length: %d\r\n" % len(body))
        lines += [b"Date: ", self.server.clock.date(), b"\r\n"]
        if not keep_alive:
            lines.append(b"Connection: close\r\n")
        lines.append(b"\r\n")
        if not head_only:
            lines.append(body)
        self.transport.write(b"".join(lines))

    def refuse(self, status):
        """Answer a request we will not serve, in JSON, and close: the rest of the stream
        cannot be trusted to start a request."""
        self.refused = None
        if self.closing:
            return
        status_line, headers, body = self.error_response(status)
        self.request = None
        self.write(status_line, headers, body, keep_alive=False)
        self.linger()

    def linger(self):
        """Stop answering but keep reading for a while: closed with unread bytes (the rest
        of a 1 MB header), a socket sends a reset that can destroy the answer on its way."""
        self.closing = True
        self.transport.write_eof()  # the answer ends here, once sent
        self.arm(LINGER_TIMEOUT, self.transport.close)

    def too_slow(self):
        debug(f"request from {self.peer} took over {REQUEST_TIMEOUT}s to arrive: dropped")
        self.refused = HTTPStatus.REQUEST_TIMEOUT  # once those before it are answered
        self.answer_ready()

    # Timers and closing

    def arm(self, seconds, callback):
        """Run `callback` in `seconds` (up to DEADLINE_TICK later) unless disarmed first."""
        self.deadline, self.on_deadline = self.server.loop.time() + seconds, callback

    def disarm(self):
        self.deadline = self.on_deadline = None

    def close(self):
        self.closing = True
        self.disarm()
        self.transport.close()  # after what is written has gone out


def wake_on_signals(loop):
    """Let a signal wake the event loop whichever thread the kernel gave it to: Python runs
    its handler (which raises to stop us) only once the main thread runs again."""
    receiver, sender = socket.socketpair()
    for end in (receiver, sender):
        end.setblocking(False)
    loop.add_reader(receiver.fileno(), lambda: receiver.recv(4096))
    previous = signal.set_wakeup_fd(sender.fileno(), warn_on_full_buffer=False)
    return receiver, sender, previous


def listen(host, port):
    """The listening socket; OSError if the address is taken or not ours."""
    sock = socket.create_server((host, port), backlog=BACKLOG)
    sock.setblocking(False)
    return sock


class Acceptor:
    """Takes new connections off the listening socket, a few per wake-up: the processes
    that share the socket each take their share, the least busy the most."""

    def __init__(self, loop, sock, server):
        self.loop, self.sock, self.server = loop, sock, server

    def start(self):
        self.loop.add_reader(self.sock.fileno(), self.accept)

    def stop(self):
        self.loop.remove_reader(self.sock.fileno())

    def close(self):
        """Stop accepting, and let the connections already taken be made (then closed with
        the others): a stop between accept() and its connection left a task pending."""
        self.stop()
        connecting = asyncio.all_tasks(self.loop)
        if connecting:
            self.loop.run_until_complete(asyncio.wait(connecting, timeout=FLUSH_TIMEOUT))

    def accept(self):
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # another process took it
            except OSError as error:  # out of file descriptors, say: try again later
                debug(f"cannot accept: {error}")
                self.stop()
                self.loop.call_later(ACCEPT_PAUSE, self.start)
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.loop.create_task(self.connect(conn))

    async def connect(self, conn):
        try:
            await self.loop.connect_accepted_socket(self.server.connection, conn)
        except OSError as error:
            debug(f"connection lost as it came: {error}")
            conn.close()


class Stops:
    """SIGINT and SIGTERM while serving. Raised from anywhere, as Python does, a stop could
    land inside asyncio's own bookkeeping and lose a callback (a connection's task was left
    pending, about 1 stop in 300). So a stop is noted and ends the loop between two
    callbacks; only while the app runs (a Redis call may take seconds) is it raised at
    once, as in the other scripts. `deliver()` hands it, once the goodbyes are said, to the
    handler that was there before (run()'s: exit 0 on SIGTERM, 130 on Ctrl-C)."""

    def __init__(self, server):
        self.server = server
        self.came = None
        self.previous = {signum: signal.signal(signum, self.note) for signum in STOP_SIGNALS}

    def note(self, signum, frame):
        if self.came is not None:
            return  # one stop is enough: a second must not cut the goodbyes short
        self.came = signum
        self.stop_serving()
        if self.server.in_app():
            self.deliver()

    def stop_serving(self):
        """End the loop's run_forever, if it runs. A loop told to stop before it runs
        stops at its next run: the cleanup's, which then failed with "Event loop stopped
        before Future completed" (a stop just after the loop was made, under load)."""
        loop = self.server.loop
        if self.came is not None and self.server.serving and loop.is_running():
            loop.stop()

    def restore(self):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def deliver(self):
        handler = self.previous[self.came]
        if callable(handler):
            handler(self.came, None)
        else:  # SIG_DFL or SIG_IGN: the default action, once ours is gone
            self.restore()
            signal.raise_signal(self.came)


def serve_socket(app, sock, multiprocess=False):
    """Serve the WSGI `app` on the listening `sock` (shared with other processes if
    `multiprocess`) until SIGTERM or Ctrl-C; then close every connection and pass the
    stop on to the handler that was there before (which raises, to end the script)."""
    host, port = sock.getsockname()[:2]
    server = Server(app, host, port, multiprocess)
    stops = Stops(server)  # before the loop: a stop must not leave it half made
    loop = server.loop = server.round_trips.loop = asyncio.new_event_loop()
    acceptor = Acceptor(loop, sock, server)
    receiver, sender, previous = wake_on_signals(loop)
    try:
        if stops.came is None:
            acceptor.start()
            debug(f"{os.getpid()} serving http://{host}:{port}")
            loop.call_soon(stops.stop_serving)  # a stop noted after the check above
            loop.call_soon(server.check_deadlines)
            server.serving = True
            loop.run_forever()
    finally:
        server.serving = False  # a stop from here on is only noted: the cleanup runs to its end
        try:
            server.round_trips.close()
            acceptor.close()
            close_all(loop, server.connections)
        finally:
            signal.set_wakeup_fd(previous)
            receiver.close()
            sender.close()
            loop.close()
            stops.restore()
    if stops.came is not None:
        stops.deliver()


def close_all(loop, connections):
    """Close every connection; answers already written get a moment to reach their
    clients, and whatever is still unsent after that is dropped."""
    for connection in list(connections):
        connection.close()
    deadline = time.monotonic() + FLUSH_TIMEOUT
    while connections and time.monotonic() < deadline:
        loop.run_until_complete(asyncio.sleep(0.01))
    for connection in list(connections):
        connection.transport.abort()
    loop.run_until_complete(asyncio.sleep(0))
