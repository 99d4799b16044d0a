"""Say (a warning, never a failure) when a release newer than a fence's pin exists.

pyproject.toml caps redis-py and RQ below the next minor: the package writes RQ's data
layout and packs redis-py's commands itself, held to the release tested by
tests/test_rq_fence.py, tests/test_layout.py and tests/test_redis_fence.py. The day a
newer release is out, someone should run the suite on it and widen the cap. Asks the
package index through pip; without a network it says so and ends, exit 0.
"""

import re
import subprocess
import sys
from pathlib import Path

FENCED = {"redis": "tests/test_redis_fence.py", "rq": "tests/test_rq_fence.py and tests/test_layout.py"}
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def release(text):
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def cap(name):
    """The `<X.Y` of `name`'s requirement in pyproject.toml, or None."""
    found = re.search(rf'"{re.escape(name)}(?:\[[^\]]*\])?[^"]*<\s*([\d.]+)', PYPROJECT.read_text())
    return found.group(1) if found else None


def newest(name):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", name],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"^\S+ \(([^)]+)\)", done.stdout, re.MULTILINE)
    return found.group(1) if done.returncode == 0 and found else None


def main():
    for name, fence in FENCED.items():
        upper = cap(name)
        try:
            latest = newest(name)
        except (OSError, subprocess.TimeoutExpired):
            latest = None
        if latest is None:
            print(f"newer releases: could not ask the package index about {name} (no network?)")
        elif upper is not None and release(latest) >= release(upper):
            print(
                f"warning: {name} {latest} is out, and pyproject.toml pins {name} <{upper}: "
                f"run the suite on it ({fence}) and widen the pin if it passes"
            )
        else:
            print(f"newer releases: {name} {latest} is the newest, within the pin <{upper}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
