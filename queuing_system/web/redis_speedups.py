"""Where redis-py spends for nothing: packing each command, and the bookkeeping around
each command of a client that keeps one connection.

redis-py packs a command with hiredis, after copying its arguments into a new tuple to turn
any memoryview or bytearray into bytes, one generator step per argument. Our commands
have none: creating a job packs about 40 arguments, a worker's step about 35, and the
copy is a tenth of the CPU of creating jobs. Ours hands the arguments to hiredis as they
are, and only if hiredis refuses them does it go the way redis-py does (same bytes, same
errors).

The commands of a client that keeps one connection (connection.own_connection: an app's
server process) are sent on it and their reply read from it, without
redis-py's per-command bookkeeping (its timing for observability, its retry closures): that
is two-fifths of a command's client CPU, a tenth of a reservation's. In a request's
greenlet of an app's server, the command waits to be sent with the other requests' (see
round_trips.py, and `send_all`). A dropped connection goes the long way, redis-py's, which
retries on a new one as it would have.

It touches redis-py in these places, none listed in its documentation:
- the `command_packer` argument of its Connection, given through the connection options of
  our clients (connection.make_client);
- a single-connection client's `connection`, `single_connection_lock` and
  `response_callbacks` attributes, and the `send_command`, `pack_command`,
  `send_packed_command` and `read_response` methods of that connection.
redis-py is pinned to the tested minor release in pyproject.toml; tests/test_redis_fence.py
fails, loudly, on a redis-py where any of these moved, and checks that ours packs and
answers as redis-py's own.
"""

import hashlib
import inspect

import greenlet
import redis.connection

TESTED_RELEASES = ("8.1",)  # redis-py minor releases the whole suite passed on


class CommandPacker:
    """redis-py's HiredisRespSerializer, without the copy of the arguments."""

    def __init__(self):
        self.own = redis.connection.HiredisRespSerializer()

    def pack(self, *args):
        command = args[0]
        if isinstance(command, str):  # 'CONFIG GET' is sent as two arguments
            args = (*command.encode().split(), *args[1:])
        elif b" " in command:
            args = (*command.split(), *args[1:])
        try:
            return [redis.connection.hiredis.pack_command(args)]
        except TypeError:  # a memoryview, a bytearray, or what redis-py refuses with DataError
            return self.own.pack(*args)


def connection_options():
    """What our clients pass to their connections: our packer, where hiredis packs."""
    if not redis.connection.HIREDIS_AVAILABLE or not takes_a_packer():
        return {}
    return {"command_packer": CommandPacker()}


def takes_a_packer():
    return "command_packer" in inspect.signature(redis.connection.AbstractConnection.__init__).parameters


class OwnConnectionClient(redis.Redis):
    """A single-connection client (connection.own_connection) whose commands are sent on its
    connection and their replies read from it, then given redis-py's response callback,
    without the rest of redis-py's per-command path. A dropped connection, or a command
    given options other than `keys` (which only redis-py's client-side cache reads), goes
    redis-py's way, which retries on a new connection as it would have."""

    def execute_command(self, *args, **options):
        connection = self.connection
        if connection is None or args[0] in HIMPORT or not options.keys() <= KEYS_ONLY:
            return super().execute_command(*args, **options)
        round_trips = getattr(greenlet.getcurrent(), "round_trips", None)  # see round_trips.py
        if round_trips is not None:
            response = round_trips.wait(self, connection.pack_command(*args))
            if isinstance(response, Exception):
                raise response
        else:
            with self.single_connection_lock:
                try:
                    connection.send_command(*args)
                    response = connection.read_response()
                except (redis.ConnectionError, redis.TimeoutError, OSError):
                    response = DROPPED  # redis-py closed the connection: it makes a new one, below
        if response is DROPPED:
            return super().execute_command(*args, **options)
        callback = self.response_callbacks.get(args[0])
        return response if callback is None else callback(response)

    def send_all(self, commands):
        """Send the packed `commands` on this client's connection in one write, and read
        their replies: each a reply, a ResponseError, or DROPPED where the connection
        dropped before it came (redis-py then closed it)."""
        replies = []
        with self.single_connection_lock:
            connection = self.connection
            if connection is None:
                return [DROPPED] * len(commands)
            try:
                connection.send_packed_command([b"".join(chunk for command in commands for chunk in command)])
                while len(replies) < len(commands):
                    try:
                        replies.append(connection.read_response())
                    except redis.ResponseError as error:
                        replies.append(error)
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                replies += [DROPPED] * (len(commands) - len(replies))
        return replies


HIMPORT = ("HIMPORT", "HIMPORT SET")  # its first send on a connection must prepare it
KEYS_ONLY = {"keys"}
DROPPED = object()


class LuaScript:
    """A Lua script, called as redis-py's Script is (EVALSHA; loaded when Redis lacks it),
    with the client to run it on: `script(client, keys, args)`."""

    def __init__(self, text):
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    def __call__(self, client, keys=(), args=()):
        command = ("EVALSHA", self.sha, len(keys), *keys, *args)
        try:
            return client.execute_command(*command)
        except redis.exceptions.NoScriptError:  # a Redis restarted, or told SCRIPT FLUSH
            client.script_load(self.text)
            return client.execute_command(*command)
