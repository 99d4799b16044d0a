"""The worker: RQ's queues, jobs and Redis data layout, with each transition of a job one
purpose-written Lua script, as BullMQ's workers move jobs. RQ's layout (layout.py) and the
scripts' loader (lua.py) sit beneath, shared with the job side.

    scripts/*.lua   one script per transition (take, finish, fail, progress, abandon,
                    requeue_stranded, set_aside...), each stating its KEYS and ARGV
    steps.py        the worker's steps: numbered, each done once; a job's progress
    job.py          who may run what: the allowlist, a custom job class as RQ documents
    failure.py      what becomes of a job that failed: retried or failed, decided once
    core.py         the worker's loop: take, run, end, with the next take in the same step
    presence.py     the worker as RQ's tools list it: its hash, heartbeat, state, commands
    maintenance.py  abandoned jobs, jobs stranded between take and start, RQ's registries
    due_jobs.py     delayed and retried jobs moved onto their queue when due
    set_aside.py    entries no worker can run, moved aside for a person
    pool.py         N workers in processes (WorkerPool), one on an app's thread
                    (BackgroundWorker), drain(); QUEUING_WORKER=rq runs RQ's own

Import its parts from their modules: this package imports none of them by itself, and
nothing of the job side imports it.
"""
