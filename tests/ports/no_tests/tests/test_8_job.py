import importlib

import fakeredis
from rq import Queue

job_module = importlib.import_module("8_job")


def make_queue():
    return Queue("push_notification_code_3", connection=fakeredis.FakeRedis())


def check_jobs_are_created():
    queue = make_queue()
    job_module.create_push_notifications_jobs([{"phoneNumber": "1", "message": "m"}], queue)
    assert len(queue) == 1
