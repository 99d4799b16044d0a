"""One task's run on one port: where it runs, what it started, what it found.

A task (tasks.py) starts the port's scripts through its Trial, which gives each its
environment (REDIS_URL, PORT, line-buffered output, the task's mark), records the
commands and what they printed for the transcript, and keeps the findings.
"""

import http.client
import os
import signal
import sys

from . import diffs
from .isolation import MARK, marked_processes
from .running import OUTPUT_CAP, Script
from .verdicts import TRANSCRIPT_LINES, Findings

# Variables of the grader's environment a graded script must not inherit: ours (they
# change how this repository's scripts behave) and the ones a task sets itself.
NOT_INHERITED = ("REDIS_URL", "PORT", "HOST", "WORKERS", "PYTHONSTARTUP", "PYTHONUNBUFFERED")
HTTP_TIMEOUT = 10  # seconds for one request to an app
BODY_CAP = 1 << 20  # bytes of a response body read


LINE_BUFFERED = """# Written by the grader: stdout line-buffered, as in a terminal, though it is a pipe here.
import sys

try:
    sys.stdout.reconfigure(line_buffering=True, write_through=False)
except Exception:
    pass
"""


def line_buffering(directory):
    """A directory whose sitecustomize.py makes a Python script's stdout line-buffered.

    In a pipe, print() waits in a buffer until the script ends (a subscriber's lines would
    come too late to be seen); unbuffered (PYTHONUNBUFFERED), it writes a line's text and
    its newline in two writes, which two workers' lines interleave. Line-buffered, as in a
    terminal, each line is one write."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(LINE_BUFFERED)
    return directory


def script_env(redis_url, mark, port=None, site=None):
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("QUEUING_") and name not in NOT_INHERITED
    }
    env.update(REDIS_URL=redis_url, PYTHONDONTWRITEBYTECODE="1", HOST="127.0.0.1")
    if site:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env[MARK] = mark
    if port:
        env["PORT"] = str(port)
    return env


def signal_words(code):
    try:
        return f"killed by {signal.Signals(-code).name} (exit {code})"
    except ValueError:
        return f"killed by signal {-code}"


def crash_line(stderr):
    """The exception line of a traceback at the end of stderr, if there is one."""
    lines = [diffs.ANSI.sub("", line).rstrip() for line in stderr.splitlines() if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("Traceback (most recent call last)"):
            after = [line for line in lines[index + 1 :] if not line.startswith(" ")]
            return after[-1] if after else None
    return None


class Trial:
    def __init__(self, task, port_dir, redis_url, client, strict, app_port, mark, site=None):
        self.task = task
        self.port_dir = port_dir
        self.redis_url = redis_url
        self.client = client  # the grader's own connection to the task's Redis (bytes)
        self.strict = strict
        self.app_port = app_port
        self.mark = mark  # this task's mark: <run>:<task>
        self.site = site  # the line-buffering sitecustomize's directory
        self.findings = Findings(strict)
        self.notes = []
        self.transcript = []
        self.scripts = {}  # file name -> Script

    # Running things

    def start(self, name, *args, app=False):
        """Start one of the port's scripts, as `python NAME ARGS` from its directory."""
        return self.start_command(name, [sys.executable, name, *args], app=app)

    def start_command(self, label, argv, app=False):
        env = script_env(self.redis_url, f"{self.mark}:{label}", self.app_port if app else None, self.site)
        script = Script(label, argv, self.port_dir, env)
        self.scripts[label] = script
        return script

    def processes_of(self, script):
        """The pids of a script and of everything it started (marked as it)."""
        mark = f"{self.mark}:{script.name}"
        return [pid for pid, found in marked_processes(mark).items() if found == mark]

    def run(self, name, *args, timeout, label=None, argv=None):
        """Run a script (or `argv`) to its end, `timeout` seconds at most; the Script."""
        script = self.start_command(label or name, argv or [sys.executable, name, *args])
        if script.wait(timeout) is None:
            script.kill()
            script.wait(5)
            script.timed_out = True
        return script

    # The transcript

    def command(self, text):
        self.transcript.append(f"$ {text}")

    def show(self, script, who=""):
        lines = script.lines()
        for line in lines[:TRANSCRIPT_LINES]:
            self.transcript.append(f"{who}{diffs.cut(diffs.visible(line))}")
        if len(lines) > TRANSCRIPT_LINES:
            self.transcript.append(f"{who}… ({len(lines) - TRANSCRIPT_LINES} more lines)")

    # Findings

    def fail(self, headline, details=(), script=""):
        self.findings.fail(headline, details, script)

    def lenient(self, headline, details=(), script=""):
        self.findings.lenient(headline, details, script)

    def advise(self, text):
        self.findings.advise(text)

    def skip(self, reason):
        self.findings.skip(reason)

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)

    def ended_badly(self, script, expected_end=True):
        """A problem if the script did not end as a script should: cut off at the output
        cap, killed by a signal, or exiting non-zero (with its exception line)."""
        if script.overflowed:
            stream = "stdout" if script.stdout.overflowed else "stderr"
            first = [diffs.cut(diffs.visible(line), 100) for line in script.lines()[:3]]
            self.fail(
                f"{script.name} printed over {OUTPUT_CAP >> 20} MiB on {stream}, the most the grader reads: "
                "stopped there. Does it print in a loop? Its first lines:",
                first,
                script=script.name,
            )
            return True
        code = script.code
        if code is None or code == 0 or script.stopped:
            return False  # running, fine, or stopped by the grader (that stop is judged apart)
        if code < 0:
            self.fail(f"{script.name} was {signal_words(code)}.", script=script.name)
        else:
            crashed = crash_line(script.err_text)
            self.fail(
                f"{script.name} exited {code}" + (f": {crashed}" if crashed else "."),
                script=script.name,
            )
        return True

    def redis_hint(self, script):
        """One line for a script that connects to localhost:6379 while REDIS_URL names
        another address (where the grader cannot give it 6379: isolation.py)."""
        if ":6379/" in self.redis_url or self.redis_url.endswith(":6379"):
            return
        said = script.err_text + script.out_bytes[:65536].decode(errors="replace")
        if "6379" in said:
            self.fail(
                f"{script.name} connects to localhost:6379, not to REDIS_URL ({self.redis_url}): read "
                "the address from the environment, redis.Redis.from_url(os.environ.get('REDIS_URL', "
                "'redis://localhost:6379')).",
                script=script.name,
            )

    def finish(self, result):
        """Put the findings into the task's result, each file's stderr tail after its last problem."""
        problems = self.findings.problems
        for name in dict.fromkeys(problem.script for problem in problems if problem.script):
            script = self.scripts.get(name)
            tail = diffs.tail(script.err_text) if script else []
            if tail:
                last = [problem for problem in problems if problem.script == name][-1]
                last.details.append(f"{name}'s stderr (the last lines):")
                last.details.extend(f"  {line}" for line in tail)
        result.problems = problems
        result.advice = self.findings.advice
        result.skipped = self.findings.skipped
        result.notes = self.notes
        result.transcript = self.transcript
        result.decide()


def http_get(port, path):
    """(status, content type, body bytes) of GET path on 127.0.0.1:port, or an error text."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read(BODY_CAP)
        return response.status, response.getheader("Content-Type") or "", body
    except (OSError, http.client.HTTPException) as error:
        return f"{type(error).__name__}: {error}"
    finally:
        connection.close()
