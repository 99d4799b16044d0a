""".ci/newer_releases.py finds the fences' pins in pyproject.toml and warns on a newer release."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "newer_releases.py"
spec = importlib.util.spec_from_file_location("newer_releases", SCRIPT)
newer_releases = importlib.util.module_from_spec(spec)
spec.loader.exec_module(newer_releases)


def test_it_reads_each_fences_cap():
    assert newer_releases.cap("redis") == "8.2"
    assert newer_releases.cap("rq") == "3.1"


@pytest.mark.parametrize("latest, warned", [("8.2.0", True), ("8.1.4", False), (None, False)])
def test_it_warns_only_on_a_release_past_the_cap(monkeypatch, capsys, latest, warned):
    monkeypatch.setattr(newer_releases, "FENCED", {"redis": "tests/test_redis_fence.py"})
    monkeypatch.setattr(newer_releases, "newest", lambda name: latest)
    assert newer_releases.main() == 0  # never a failure
    assert capsys.readouterr().out.startswith("warning: redis 8.2.0 is out") == warned
