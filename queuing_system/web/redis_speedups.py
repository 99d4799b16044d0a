"""Where redis-py spends for nothing in an app's server process: the bookkeeping around
each command of a client that keeps one connection.

The commands of a client that keeps one connection (own_connection: an app's server
process) are sent on it and their reply read from it, without redis-py's per-command
bookkeeping (its timing for observability, its retry closures): that is two-fifths of a
command's client CPU, a tenth of a reservation's. In a request's greenlet of an app's
server, the command waits to be sent with the other requests' (see round_trips.py, and
`send_all`). A dropped connection goes the long way, redis-py's, which retries on a new one
as it would have. (Every client's commands are packed by ours: command_packer.py.)

It touches redis-py in these places, none listed in its documentation: a single-connection
client's `connection`, `single_connection_lock` and `response_callbacks` attributes, and
the `send_command`, `pack_command`, `send_packed_command` and `read_response` methods of
that connection. redis-py is pinned to the tested minor release in pyproject.toml;
tests/test_redis_fence.py fails, loudly, on a redis-py where any of these moved, and checks
that ours answers as redis-py's own.
"""

import redis.connection

from ..connection import current_request
from ..replication import ReplicaError, acknowledged_command, answer, sent


def own_connection(client):
    """A client with `client`'s settings that keeps one connection of its own, for a thread
    or process that sends one command at a time: taking a connection from the pool and
    giving it back costs each command two system calls and a fifth of its client CPU.
    While Redis cannot be reached, a client on the pool (which connects when it can).
    Closing it leaves `client`'s pool open."""
    pool = client.connection_pool
    try:
        return OwnConnectionClient(connection_pool=pool, single_connection_client=True)
    except (redis.RedisError, OSError):
        return redis.Redis(connection_pool=pool)


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
        request = current_request.get()  # an app's request: its command waits for round_trips.py
        if request is not None:
            response = request.round_trips.wait(self, connection.pack_command(*args))
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

    def acknowledged(self, args, again=False):
        """The reply of the command `args`, once the primary's replicas have it (see
        replication.py; `again`: a try after an earlier one): in an app's request sent with
        the others' commands (the WAIT after them, once), else on this client's connection.
        Raised if an error."""
        connection = self.connection
        request = current_request.get()  # an app's request: its command waits for round_trips.py
        if request is not None:
            packed = connection.pack_command(*args)
            response = answer(request.round_trips.wait(self, packed, acknowledged=True, again=again))
        else:
            with self.single_connection_lock:
                response = answer(sent(connection, [args], again)[0])
        callback = self.response_callbacks.get(args[0])
        return response if callback is None else callback(response)

    def send_all(self, commands):
        """Send the packed `commands` on this client's connection in one write, and read
        their replies: each a reply, a ResponseError, or DROPPED where the connection
        dropped before it came (redis-py then closed it). A replica's answer (ReplicaError:
        the command was refused, the connection dropped) is its command's reply."""
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
                    except (redis.ResponseError, ReplicaError) as error:
                        replies.append(error)
                        if isinstance(error, ReplicaError):
                            break
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                pass
            replies += [DROPPED] * (len(commands) - len(replies))
        return replies


HIMPORT = ("HIMPORT", "HIMPORT SET")  # its first send on a connection must prepare it
KEYS_ONLY = {"keys"}
DROPPED = object()


def acknowledged(script, client, keys, args, again=False):
    """`script(client, keys, args)`'s answer (a lua.Script's), once the primary's replicas
    have what it wrote (replication.py): a reservation a failover would lose is not
    confirmed, but tried again (its receipt makes that safe; `again`: this is such a try)."""
    command = ("EVALSHA", script.sha, len(keys), *keys, *args)
    try:
        return send_acknowledged(client, command, again)
    except redis.exceptions.NoScriptError:  # a Redis restarted, or told SCRIPT FLUSH
        client.script_load(script.text)
        return send_acknowledged(client, command, again)


def send_acknowledged(client, command, again=False):
    """The reply of `command` on `client`, once the primary's replicas have it: on an
    OwnConnectionClient's own connection (in a request, with the others' commands), else
    on a connection of `client`'s pool (replication.acknowledged_command)."""
    if isinstance(client, OwnConnectionClient) and client.connection is not None:
        return client.acknowledged(command, again)
    return acknowledged_command(client, *command, again=again)
