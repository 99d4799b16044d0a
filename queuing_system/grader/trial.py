"""One task's run on one port: where it runs, what it started, what it found.

A task (tasks.py) starts the port's scripts through its Trial, which runs each in its
sandbox (sandbox.py) with its environment (REDIS_URL, PORT), records the commands and
what they printed for the transcript, and keeps the findings. The grader's partners
known to be right (this repository's scripts, the grader's own RQ worker and creator)
are started the same way, each in a sandbox of its own.
"""

import http.client
import signal
import sys

from . import diffs
from .isolation import descendants
from .running import OUTPUT_CAP, Script
from .sandbox import script_env
from .verdicts import TRANSCRIPT_LINES, Findings

HTTP_TIMEOUT = 10  # seconds for one request to an app
BODY_CAP = 1 << 20  # bytes of a response body read


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
    def __init__(
        self,
        task,
        port_dir,
        redis_url,
        client,
        strict,
        app_port,
        runner,
        partners=None,
        memory=None,
        own_redis=True,
    ):
        self.task = task
        self.port_dir = port_dir  # the port's copy, as the grader sees it
        self.redis_url = redis_url
        self.client = client  # the grader's own connection to the task's Redis (bytes)
        self.own_redis = own_redis  # a redis-server of the grader's own, not one others may use
        self.strict = strict
        self.app_port = app_port
        self.runner = runner  # sandbox.Runner: how a script is started
        self.partners = partners  # the folder of this repository's scripts, the partners known to be right
        self.memory = memory if memory is not None else {}  # what earlier tasks of the port learned
        self.findings = Findings(strict)
        self.notes = []
        self.transcript = []
        self.scripts = {}  # file name -> Script

    # Running things

    def start(self, name, *args, app=False):
        """Start one of the port's scripts, as `python NAME ARGS` from its directory."""
        return self.start_command(name, [sys.executable, name, *args], app=app)

    def start_command(self, label, argv, app=False, view=None):
        """Start `argv` in a sandbox that sees `view` (the port's copy by default) as its
        working directory."""
        env = script_env(self.redis_url, self.app_port if app else None)
        launch = self.runner.launch(argv, view or self.port_dir, env)
        script = Script(label, launch, self.runner.sandboxed)
        self.scripts[label] = script
        return script

    def start_partner(self, name):
        """This repository's `name`, a partner known to be right, in a sandbox of its own
        (None where the grader runs without its repository)."""
        if not self.partners or not (self.partners / name).is_file():
            return None
        return self.start_command(f"{name} (the grader's)", [sys.executable, name], view=self.partners)

    def where(self, folder=None):
        """Where a script sees `folder` (the port's copy by default)."""
        return self.runner.where(folder or self.port_dir)

    def processes_of(self, script):
        """The pids of a script and of everything it started."""
        return [script.pid, *descendants(script.pid)]

    def run(self, name, *args, timeout, label=None, argv=None, view=None):
        """Run a script (or `argv`) to its end, `timeout` seconds at most; the Script."""
        script = self.start_command(label or name, argv or [sys.executable, name, *args], view=view)
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
