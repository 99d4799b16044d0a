import importlib

import pytest

from queuing_system.grader.expected import REDIS_OP, transcript
from queuing_system.grader.harness import run_script

redis_op = importlib.import_module("1_redis_op")


@pytest.fixture
def client(fake_redis, monkeypatch):
    monkeypatch.setattr(redis_op, "client", fake_redis)
    return fake_redis


def test_set_new_school_sets_the_key_and_prints_the_reply(client, capsys):
    redis_op.set_new_school("HolbertonSanFrancisco", "100")
    assert client.get("HolbertonSanFrancisco") == "100"
    assert capsys.readouterr().out == "Reply: OK\n"


def test_display_school_value_prints_the_value(client, capsys):
    client.set("Holberton", "School")
    redis_op.display_school_value("Holberton")
    assert capsys.readouterr().out == "School\n"


def test_display_school_value_prints_none_for_a_missing_key(client, capsys):
    redis_op.display_school_value("Nowhere")
    assert capsys.readouterr().out == "None\n"


def test_script_on_dump_rdb_prints_the_spec_transcript(rdb_server):
    result = run_script("1_redis_op.py", rdb_server.url)
    assert result.returncode == 0
    assert result.stdout == transcript(REDIS_OP)
    assert result.stderr == ""
