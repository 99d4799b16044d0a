"""The fourteen tasks of the exercise, in order, and which files each grades.

By default a task grades the exercise (what the seeds' task texts ask); with --strict, the
SPEC byte for byte. Each task is in the module of its kind: redis_tasks (0-5), job_tasks
(6-11), app_tasks (12-13); what they share is in checks.
"""

from . import app_tasks, job_tasks, redis_tasks
from .checks import EXERCISE_PORT, Task
from .job_tasks import TEST_FILES, test_file

TASKS = sorted([*redis_tasks.TASKS, *job_tasks.TASKS, *app_tasks.TASKS], key=lambda each: each.number)
__all__ = ["EXERCISE_PORT", "TASKS", "TEST_FILES", "Task", "grader_of", "missing_files"]


def grader_of(name):
    """The task that grades a file."""
    for each in TASKS:
        if name in each.files:
            return each.number
    return None


def missing_files(each, port_dir):
    """(missing graded files, missing needed files) of a task in a port."""
    if each.number == 11:
        graded = [] if test_file(port_dir) else [TEST_FILES[0]]
    else:
        graded = [name for name in each.files if not (port_dir / name).is_file()]
    needed = [name for name in each.needs if not (port_dir / name).is_file()]
    return graded, needed
