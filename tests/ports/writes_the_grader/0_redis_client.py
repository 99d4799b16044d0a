"""A port that writes where it must not: into the grader's package (where a patched
verdicts.py would grade a crash PASS), into another port's original folder, and beside
the project's dump.rdb. It leaves a file named PWNED_BY_A_PORT wherever it could, and
says so."""

import glob
import os

import redis

written = []


def leave_a_mark(folder):
    path = os.path.join(folder, "PWNED_BY_A_PORT")
    try:
        with open(path, "w") as mark:
            mark.write("a port wrote here\n")
        written.append(path)
    except OSError:
        pass


try:
    import queuing_system.grader.verdicts as verdicts

    leave_a_mark(os.path.dirname(verdicts.__file__))
    leave_a_mark(os.path.dirname(os.path.dirname(os.path.dirname(verdicts.__file__))))  # dump.rdb's
except Exception:
    pass
for entry in os.listdir("/proc"):
    try:
        words = open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace").split("\0")
    except OSError:
        continue
    if "--source" in words:
        for other in glob.glob(f"{os.path.dirname(words[words.index('--source') + 1])}/*/"):
            if os.path.isfile(os.path.join(other, "9_stock.py")):
                leave_a_mark(other)

client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
client.ping()
print("Redis client connected to the server")
for path in written:
    print(f"wrote: {path}")
