"""Who may run what: RQ's Job, as a custom job class (RQ documents them for `Worker(job_class=
...)` and `rq worker --job-class`), that runs only its queue's job functions.

Anyone who can write to Redis can write a job, and an RQ job names the function a worker
imports and calls, and its callbacks. An AllowlistJob reads those names and never imports
one that is not allowed: a job naming another function fails with `Job refused: ...`, a
callback that is not allowed is dropped before anything could import it (RQ calls the
failure callback even of a job that never ran), and what our queues never ask for (webhooks
to any address, repeats, rate limits) is refused too. A stock `rq worker --job-class
myapp.MyJob` is protected alike, given `class MyJob(AllowlistJob)` naming its functions.
"""

from rq.job import Job
from rq.utils import import_attribute

from ..events import RENAMED_CALLBACKS
from ..rq_job import JobRefused, ProgressJob

CALLBACK_KINDS = ("success", "failure", "stopped")
IMPORTED = {}  # {import path: what it names}: imported once per process, as Python imports


class AllowlistJob(Job):
    """RQ's Job, refused (`Job refused: why`) unless it names one of `job_functions[its
    queue]`, with callbacks among `callbacks` only. None allows any: a subclass names them
    (or see `allowing`)."""

    job_functions = None  # {queue name: import paths of the job functions it may run}
    callbacks = None  # import paths of the callbacks a job may name
    renamed_callbacks = RENAMED_CALLBACKS  # {old import path: path now}, for jobs queued before
    refusals = ()  # what restore() found the job asking for that it may not
    callback_names = None  # {kind: import path or ''}, as restore() kept them
    allowed = None  # (its function's name, the function) once `func` found it may run

    @classmethod
    def allowing(cls, job_functions, callbacks=None, renamed_callbacks=RENAMED_CALLBACKS):
        """A subclass allowing `job_functions` ({queue name: import paths}) and `callbacks`."""
        return type(
            cls.__name__,
            (cls,),
            {
                "job_functions": None
                if job_functions is None
                else {queue: frozenset(names) for queue, names in job_functions.items()},
                "callbacks": None if callbacks is None else frozenset(callbacks),
                "renamed_callbacks": dict(renamed_callbacks or {}),
                "__module__": cls.__module__,
            },
        )

    def restore(self, raw_data):
        """RQ's restore, given the hash without what the job may not ask for (said in
        `refusals`): callbacks it may not name, webhooks, repeats, rate limits."""
        fields = {
            name.decode() if isinstance(name, bytes) else name: value for name, value in raw_data.items()
        }
        self.refusals, self.callback_names = [], {}
        for kind in CALLBACK_KINDS:
            field = f"{kind}_callback_name"
            value = fields.get(field)
            name = value.decode() if isinstance(value, bytes) else value
            if not name:
                continue
            name = self.renamed_callbacks.get(name, name)
            if self.callbacks is not None and name not in self.callbacks:
                self.refusals.append(f"its {kind} callback {name!r} is not one of ours")
                name = ""
            fields[field] = name.encode()
            self.callback_names[kind] = name
        super().restore(fields)
        # Ours never ask for these: from a stranger, webhooks would make the worker call any
        # address, and repeats send the notification again, up to 10^20 times.
        if self.webhooks:
            self.refusals.append("it asks for webhooks, which our queues never send")
            self.webhooks = []
        if self.repeats_left:
            self.refusals.append("it asks to be repeated, which our queues never do")
            self.repeats_left = None
        if self.rate_limit_key:
            self.refusals.append("it asks for a rate limit, which our queues never set")
            self.rate_limit_key = self.rate_limit_concurrency = None

    def refusal(self):
        """Why this job must not run, or None. Reads names only, never imports one."""
        reasons = list(self.refusals)
        allowed = None if self.job_functions is None else self.job_functions.get(self.origin, ())
        if allowed is not None and (self.func_name not in allowed or self.instance is not None):
            reasons.insert(0, f"{self.func_name!r} is not a job function of queue {self.origin}")
        return "; ".join(reasons) or None

    @property
    def func(self):
        name = self.func_name
        if self.allowed is not None and self.allowed[0] == name:
            return self.allowed[1]  # RQ asks twice per job: once whether it has one
        refusal = self.refusal()
        if refusal:
            raise JobRefused(f"Job refused: {refusal}")
        if self.instance is not None or name is None:
            return super().func
        self.allowed = name, imported(name)
        return self.allowed[1]

    # A restored job's callbacks, as RQ's properties give them, without importing their
    # names again for every job.

    def callback(self, kind):
        name = self.callback_names.get(kind)
        return imported(name) if name else None

    @property
    def success_callback(self):
        return super().success_callback if self.callback_names is None else self.callback("success")

    @property
    def failure_callback(self):
        return super().failure_callback if self.callback_names is None else self.callback("failure")

    @property
    def stopped_callback(self):
        return super().stopped_callback if self.callback_names is None else self.callback("stopped")


def imported(name):
    """What `name` (an import path) names, as RQ imports a job's function (import_attribute)."""
    found = IMPORTED.get(name)
    if found is None:
        found = IMPORTED[name] = import_attribute(name)
    return found


class WorkerJob(AllowlistJob, ProgressJob):
    """The job class our worker runs: its progress (progress.report_progress) goes to
    Redis with its end, in one step, or while it runs if it takes longer: its `progress`
    is the worker's steps.Progress, given as the worker makes the job."""

    depends = False  # whether it named jobs it depends on (its hash as taken says so)


MOST_SECONDS = 10**12  # a retention or timeout beyond this (31,000 years) is garbage


def writable(job):
    """Raise ValueError if what the job's end writes from its hash could not be written:
    Redis refuses an EXPIRE beyond 2^63 ms, and a step refused half-way leaves half of it
    written (RQ's own worker dies on such a job, every time it takes it)."""
    for name, seconds in (("result_ttl", job.result_ttl), ("failure_ttl", job.failure_ttl), ("ttl", job.ttl)):
        if seconds is not None and not -1 <= seconds <= MOST_SECONDS:
            raise ValueError(f"its {name} {seconds} is out of range")
    if job.timeout is not None and not -1 <= job.timeout <= MOST_SECONDS:
        raise ValueError(f"its timeout {job.timeout} is out of range")
    if job.retries_left is not None:
        intervals = job.retry_intervals
        if not 0 <= job.retries_left <= MOST_SECONDS or not (
            intervals is None
            or (
                intervals
                and isinstance(intervals, list)
                and all(type(n) is int and 0 <= n <= MOST_SECONDS for n in intervals)
            )
        ):
            raise ValueError(
                f"its retries ({job.retries_left} left, intervals {intervals!r}) are out of range"
            )
