"""What a running job tells its creator of its progress: Kue's `job.progress(...)`, as an
event (events.py) on the queue's stream, which the creator's EventFollower reads.

Under a stock RQ worker the event is written at once. Under ours (worker/), it waits to go
to Redis with the job's next step, often its end (rq_job.ProgressJob).
"""

from .events import emit, progress_event
from .rq_job import ProgressJob


def report_progress(job, percent=None):
    """Kue's `job.progress(percent, 100)`: saves job.meta["progress"] (what `rq info` and
    dashboards show; `percent`, if given, is put there first) and tells the creator, in
    one round trip, or with our worker's next step. As Kue did, the percentage is a whole
    number from 0 to 100 (100/3 gives 33)."""
    if percent is None:
        percent = job.meta.get("progress", 0)
    percent = min(max(int(percent), 0), 100)
    job.meta["progress"] = percent
    progress = job.progress if isinstance(job, ProgressJob) else None  # None under a stock RQ worker
    if progress is not None:
        progress.add(job, percent)
        return
    with job.connection.pipeline(transaction=False) as pipeline:
        pipeline.hset(job.key, "meta", job.serializer.dumps(job.meta))
        emit(pipeline, job.origin, progress_event(job, percent))
        pipeline.execute()
