"""A task's verdict, and how verdicts are shown: a task's block, a port's table, a class's.

A verdict is PASS, FAIL (a problem of the files the task grades) or SKIP (the task could
not be judged, because a file it needs and does not grade is missing or misbehaved: that
file's own task says why). Under it come its problems, each a headline a student can act
on and the lines that show it (a diff, the stderr tail), then its advice: what the spec
asks beyond the exercise, which `--strict` grades.
"""

from dataclasses import asdict, dataclass, field

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
TRANSCRIPT_LINES = 40  # lines of one script's output shown in a transcript


@dataclass
class Problem:
    headline: str
    details: list = field(default_factory=list)
    script: str = ""  # the file whose stderr tail goes under it
    times: int = 1  # the same problem, met again (four reservations answered alike)


class Findings:
    """What judging one task found: problems of its files, advice, or why it was not judged."""

    def __init__(self, strict):
        self.strict = strict
        self.problems = []
        self.advice = []
        self.skipped = ""

    def fail(self, headline, details=(), script=""):
        for problem in self.problems:
            if (problem.headline, problem.details, problem.script) == (headline, list(details), script):
                problem.times += 1
                return
        self.problems.append(Problem(headline, list(details), script))

    def lenient(self, headline, details=(), script=""):
        """What the spec asks beyond the exercise: a problem under --strict, else advice."""
        if self.strict:
            self.fail(headline, details, script)
        else:
            self.advise(headline)

    def advise(self, text):
        if text not in self.advice:
            self.advice.append(text)

    def skip(self, reason):
        self.skipped = self.skipped or reason


@dataclass
class TaskResult:
    number: int
    title: str
    files: list
    verdict: str = PASS
    seconds: float = 0.0
    problems: list = field(default_factory=list)
    advice: list = field(default_factory=list)
    skipped: str = ""  # why it could not be judged
    notes: list = field(default_factory=list)  # what its partner files did wrong (their own tasks fail)
    transcript: list = field(default_factory=list)

    def to_json(self):
        return asdict(self)

    @classmethod
    def from_json(cls, data):
        data = dict(data)
        data["problems"] = [Problem(**problem) for problem in data.get("problems", [])]
        return cls(**data)

    def decide(self):
        self.verdict = FAIL if self.problems else SKIP if self.skipped else PASS


def verdict_lines(result, indent="    "):
    """What follows a task's transcript: its verdict and why."""
    head = f"  {result.verdict} ({result.seconds:.1f}s)"
    if result.verdict == SKIP:
        head += f": not judged, {result.skipped}"
    lines = [head]
    for problem in result.problems:
        again = f" ({problem.times} times)" if problem.times > 1 else ""
        lines.append(f"{indent}{problem.headline}{again}")
        lines.extend(f"{indent}  {detail}" for detail in problem.details)
    for note in result.notes:
        lines.append(f"{indent}note: {note}")
    for advice in result.advice:
        lines.append(f"{indent}advice: {advice}")
    return lines


def task_block(result, index=None, count=None, transcript=True):
    where = f"[{index}/{count}] " if index else ""
    lines = [f"{where}Task {result.number}: {result.title}"]
    if transcript:
        lines.extend(f"    {line}" for line in result.transcript)
    lines.extend(verdict_lines(result))
    lines.append("")
    return lines


def counted(results):
    passed = sum(result.verdict == PASS for result in results)
    skipped = sum(result.verdict == SKIP for result in results)
    words = f"{passed}/{len(results)} passed"
    if skipped:
        words += f" ({skipped} not judged)"
    return words


def port_table(results, seconds):
    lines = [f"{'task':>4}  {'result':6}  {'time':>6}  what"]
    for result in results:
        lines.append(f"{result.number:>4}  {result.verdict:6}  {result.seconds:5.1f}s  {result.title}")
    lines.append(f"{counted(results)} in {seconds:.1f}s")
    return lines


def class_table(ports, numbers, seconds):
    """One row per port, one column per task: PASS, FAIL, SKIP, or `-` (not graded)."""
    width = max([7, *(len(port["name"]) for port in ports)])
    lines = [f"{'student':<{width}}  " + " ".join(f"{number:>4}" for number in numbers) + "  passed"]
    total = passed = 0
    for port in ports:
        by_number = {result.number: result for result in port["results"]}
        cells = []
        for number in numbers:
            result = by_number.get(number)
            cells.append(
                f"{(result.verdict.lower() if result.verdict != FAIL else FAIL) if result else '-':>4}"
            )
        ok = sum(result.verdict == PASS for result in port["results"])
        total += len(port["results"])
        passed += ok
        trouble = f"  ({port['error']})" if port.get("error") else ""
        lines.append(
            f"{port['name']:<{width}}  " + " ".join(cells) + f"  {ok}/{len(port['results'])}{trouble}"
        )
    lines.append(f"{len(ports)} ports, {passed}/{total} tasks passed in {seconds:.1f}s")
    return lines
