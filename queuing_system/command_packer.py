"""Where redis-py spends for nothing on every client's commands: packing each one.

redis-py packs a command with hiredis, after copying its arguments into a new tuple to turn
any memoryview or bytearray into bytes, one generator step per argument. Our commands
have none: creating a job packs about 40 arguments, a worker's step about 35, and the
copy is a tenth of the CPU of creating jobs. Ours hands the arguments to hiredis as they
are, and only if hiredis refuses them does it go the way redis-py does (same bytes, same
errors).

It touches redis-py where its documentation does not: the `command_packer` argument of its
Connection, given through the connection options of our clients (connection.make_client),
and HiredisRespSerializer. redis-py is pinned to the tested minor release in
pyproject.toml; tests/test_redis_fence.py fails, loudly, on a redis-py where either moved,
and checks that ours packs as redis-py's own.
"""

import inspect

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
