import importlib

from queuing_system.grader.expected import (
    ADVANCED_OP_FIRST_RUN,
    ADVANCED_OP_SECOND_RUN,
    SCHOOLS_HASH,
    transcript,
)
from queuing_system.grader.harness import run_script

advanced_op = importlib.import_module("4_redis_advanced_op")


def test_store_and_display_the_hash(fake_redis, monkeypatch, capsys):
    monkeypatch.setattr(advanced_op, "client", fake_redis)
    advanced_op.store_schools()
    advanced_op.display_schools()
    assert capsys.readouterr().out == transcript(["Reply: 1"] * 6 + [SCHOOLS_HASH])
    assert fake_redis.hget("HolbertonSchools", "New York") == "20"


def test_script_first_run_then_second_run(redis_url):
    first = run_script("4_redis_advanced_op.py", redis_url)
    assert (first.returncode, first.stdout, first.stderr) == (0, transcript(ADVANCED_OP_FIRST_RUN), "")
    second = run_script("4_redis_advanced_op.py", redis_url)
    assert (second.returncode, second.stdout) == (0, transcript(ADVANCED_OP_SECOND_RUN))
