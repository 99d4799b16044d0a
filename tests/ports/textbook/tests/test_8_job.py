import importlib

import fakeredis
import pytest
from rq import Queue

job_module = importlib.import_module("8_job")
JOBS = [
    {"phoneNumber": "4153518743", "message": "This is the code 4321 to verify your account"},
    {"phoneNumber": "4153538781", "message": "This is the code 4562 to verify your account"},
]


@pytest.fixture
def queue():
    queue = Queue("push_notification_code_3", connection=fakeredis.FakeRedis())
    yield queue
    queue.empty()


def test_a_job_list_that_is_not_a_list_is_refused(queue):
    with pytest.raises(Exception, match="Jobs is not an array"):
        job_module.create_push_notifications_jobs("not a list", queue)
    assert len(queue) == 0


def test_each_job_is_queued_with_its_data(queue, capsys):
    created = job_module.create_push_notifications_jobs(JOBS, queue)
    assert len(queue) == 2
    assert [job.args[0] for job in queue.jobs] == JOBS
    out = capsys.readouterr().out
    assert f"Notification job created: {created[0].id}" in out
    assert f"Notification job created: {created[1].id}" in out
