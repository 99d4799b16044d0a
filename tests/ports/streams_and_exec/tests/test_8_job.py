import importlib

import fakeredis
import pytest
from rq import Queue

job_module = importlib.import_module("8_job")


@pytest.fixture
def queue():
    queue = Queue("push_notification_code_3", connection=fakeredis.FakeRedis(), is_async=False)
    yield queue
    queue.empty()


def test_not_a_list_is_refused_and_nothing_is_created():
    queue = Queue("push_notification_code_3", connection=fakeredis.FakeRedis())
    with pytest.raises(Exception, match="Jobs is not an array"):
        job_module.create_push_notifications_jobs("not a list", queue)
    assert queue.count == 0


def test_each_job_is_created_on_the_queue():
    queue = Queue("push_notification_code_3", connection=fakeredis.FakeRedis())
    jobs = [{"phoneNumber": "4153518743", "message": "This is the code 4321 to verify your account"}]
    created = job_module.create_push_notifications_jobs(jobs, queue)
    assert [job.args for job in created] == [(jobs[0],)]
    assert queue.job_ids == [created[0].id]
