import asyncio
import importlib

import pytest

from queuing_system.grader.expected import REDIS_OP, transcript
from queuing_system.grader.harness import run_script

redis_op_async = importlib.import_module("2_redis_op_async")


@pytest.fixture
def client(fake_async_redis, monkeypatch):
    monkeypatch.setattr(redis_op_async, "client", fake_async_redis)
    return fake_async_redis


def test_set_then_display_with_await(client, capsys):
    async def scenario():
        await redis_op_async.set_new_school("HolbertonSanFrancisco", "100")
        await redis_op_async.display_school_value("HolbertonSanFrancisco")
        await redis_op_async.display_school_value("Missing")

    asyncio.run(scenario())
    assert capsys.readouterr().out == "Reply: OK\n100\nNone\n"


def test_script_on_dump_rdb_prints_the_spec_transcript(rdb_server):
    result = run_script("2_redis_op_async.py", rdb_server.url)
    assert result.returncode == 0
    assert result.stdout == transcript(REDIS_OP)
    assert result.stderr == ""
