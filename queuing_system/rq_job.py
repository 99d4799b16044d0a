"""RQ's Job as the job side and the worker both take it: the failures a job may raise, a
job whose progress a worker may carry, and a job copied without RQ's checks.

Beneath both: the job side (progress.py, jobs.py) and the worker (worker/) import it, and
neither imports the other.
"""

from rq.job import Job


class JobFailed(Exception):
    """A job's own, expected failure (Kue's `done(new Error(...))`): its message is the error."""


class JobRefused(JobFailed):
    """A job our worker will not run: it names a function (or callback) that is not one of
    its queue's. Anyone who can write to Redis can write such a job."""


class ProgressJob(Job):
    """RQ's Job, whose progress events (progress.report_progress) may wait to go to Redis
    with its worker's next step: `progress`, set by that worker as it makes the job, is
    where they wait (worker/steps.Progress). None: they are written at once."""

    progress = None


def copy_of(job):
    """A Job with `job`'s attributes, without Job.__init__ (which checks its serializer
    against RQ's Protocol: 8 us on Python 3.11, 95,000 instructions). Its caller sets
    anew what must be the copy's own: its id, data and meta at least."""
    other = Job.__new__(type(job))
    other.__dict__.update(vars(job))
    return other
