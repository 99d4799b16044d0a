"""Where redis-py spends for nothing: packing each command, and the bookkeeping around
each command of a client that keeps one connection.

redis-py packs a command with hiredis, after copying its arguments into a new tuple to turn
any memoryview or bytearray into bytes, one generator step per argument. Our commands
have none: creating a job packs about 50 arguments, a worker's batch about 150, and the
copy is a tenth of the CPU of creating jobs. Ours hands the arguments to hiredis as they
are, and only if hiredis refuses them does it go the way redis-py does (same bytes, same
errors).

The commands of a client that keeps one connection (connection.own_connection: an app's
server process, a worker's outbox) are sent on it and their reply read from it, without
redis-py's per-command bookkeeping (its timing for observability, its retry closures): that
is two-fifths of a command's client CPU, a tenth of a reservation's. In a request's
greenlet of an app's server, the command waits to be sent with the other requests' (see
round_trips.py, and `send_all`). A dropped connection goes the long way, redis-py's, which
retries on a new one as it would have.

A transaction that writes thousands of jobs (jobs.saved_once) sends RQ's three commands per
job: HSET of the status, HSET of the job, RPUSH of its id. Each command costs packing,
Redis's parsing and queueing, and a QUEUED reply to read: `merge_writes` makes them one
HSET per job and one RPUSH per queue (of up to MOST_ARGUMENTS arguments), which leave Redis
as the three did. A tenth of the CPU of creating a job.

It touches redis-py in these places, none listed in its documentation:
- the `command_packer` argument of its Connection, given through the connection options of
  our clients (connection.make_client);
- a pipeline's `command_stack`, the (arguments, options) of each command it holds;
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


# Writes to one key that Redis applies argument by argument, so that two in a row are one
# with both's arguments: `HSET k a 1` then `HSET k b 2 a 3` is `HSET k a 1 b 2 a 3`.
APPENDABLE = {"HSET": 2, "RPUSH": 1, "LPUSH": 1, "SADD": 1, "ZADD": 2}  # arguments per item
MOST_ARGUMENTS = 4096  # in one merged command


def merge_writes(pipeline):
    """Make `pipeline`'s commands one per key and kind, where that leaves Redis as they
    would: when every command is one of APPENDABLE, on a key given as str or bytes, with no
    options (a ZADD's first argument, its score, a number: no NX, GT, CH...), and no key
    gets two kinds. Commands on different keys are then independent, so each key's are
    sent together, in order. The pipeline's replies become the merged commands': for a
    caller who does not read them. Returns whether it merged."""
    merged = {}  # key: its commands, each a list of arguments
    for args, options in pipeline.command_stack:
        name = args[0]
        per_item = APPENDABLE.get(name)
        if options or per_item is None or not appendable(name, args, per_item):
            return False
        key = args[1].encode() if type(args[1]) is str else args[1]
        if type(key) is not bytes:
            return False
        commands = merged.get(key)
        if commands is None:
            merged[key] = [list(args)]
        elif commands[-1][0] != name:
            return False
        elif len(commands[-1]) + len(args) - 2 > MOST_ARGUMENTS:
            commands.append(list(args))
        else:
            commands[-1] += args[2:]
    pipeline.command_stack = [(tuple(command), {}) for commands in merged.values() for command in commands]
    return True


def appendable(name, args, per_item):
    items = len(args) - 2
    if items < per_item or items % per_item:
        return False
    return name != "ZADD" or all(type(score) in (int, float) for score in args[2::2])
