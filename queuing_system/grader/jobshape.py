"""The shape of a port's jobs: what its creator asks RQ to run, so that the grader's own
creator (a partner known to be right) can give the port's processor jobs it can run.

In Kue a processor chose its function and a creator named only the queue; in RQ the
creator names the function (`6_job_processor.process_notification`), how its data is
passed (a dict, two arguments, keywords) and its serializer (pickle, RQ's default, or
JSON). The grader takes that shape from the jobs the port's own creator made, then gives
the port's processor the exercise's data in it. A port whose creator made no job it can
read is read instead: a function of one argument (the job's data) in the processor's
file, or a `send_notification(phone_number, message)`.
"""

import ast
from dataclasses import dataclass, field

from .evidence import JSON, PICKLE

PHONE, MESSAGE = "\0phone", "\0message"  # where the data goes in a shape's call
SPEC_CALL = ([{"phoneNumber": PHONE, "message": MESSAGE}], {})
HINTS = ("process", "job", "handle", "notif", "task", "work", "run")


@dataclass
class JobShape:
    function: str
    serializer: str = PICKLE
    args: list = field(default_factory=lambda: SPEC_CALL[0])
    kwargs: dict = field(default_factory=dict)
    source: str = ""  # how the grader knows it: "6_job_creator.py's job", "6_job_processor.py"

    def call(self, phone, message):
        """(args, kwargs) of a job with this data."""

        def put(value):
            if value == PHONE:
                return phone
            if value == MESSAGE:
                return message
            if isinstance(value, dict):
                return {key: put(item) for key, item in value.items()}
            if isinstance(value, (list, tuple)):
                return [put(item) for item in value]
            return value

        return put(self.args), put(self.kwargs)

    def words(self):
        return f"{self.function}, {self.serializer}"


def from_job(job, source):
    """The shape of one of the port's jobs (a SeenJob), or None if its call cannot be read."""
    if not job.readable or not job.function or job.serializer not in (JSON, PICKLE):
        return None
    found = job.notification()
    if found is None:
        args, kwargs = SPEC_CALL
    else:
        phone, message = found

        def hole(value):
            if value == phone:
                return PHONE
            if value == message:
                return MESSAGE
            if isinstance(value, dict):
                return {key: hole(item) for key, item in value.items()}
            if isinstance(value, (list, tuple)):
                return [hole(item) for item in value]
            return value

        args, kwargs = hole(list(job.args)), hole(dict(job.kwargs))
    return JobShape(job.function, job.serializer, args, kwargs, source)


def from_source(path, module):
    """A shape read from a processor's file: a function of one argument (the job's data, as
    a dict) it defines, else a function of (phone_number, message); None if neither."""
    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None
    functions = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    text = path.read_text(errors="replace")
    serializer = JSON if "JSONSerializer" in text or "serializer='json'" in text else PICKLE

    def arity(node):
        arguments = node.args
        return len(arguments.posonlyargs) + len(arguments.args) - len(arguments.defaults)

    def rank(node):
        return (not any(hint in node.name.lower() for hint in HINTS), node.lineno)

    public = [node for node in functions if not node.name.startswith("_")]
    one = sorted((node for node in public if arity(node) == 1 and node.name != "send_notification"), key=rank)
    if one:
        return JobShape(f"{module}.{one[0].name}", serializer, *SPEC_CALL, source=path.name)
    two = sorted((node for node in public if arity(node) == 2), key=rank)
    if two:
        return JobShape(f"{module}.{two[0].name}", serializer, [PHONE, MESSAGE], {}, source=path.name)
    return None
