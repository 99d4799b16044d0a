"""A write tried again after a dropped connection is done once: the second try of a
reservation or of a seat job gets the first try's answer (its receipt) instead of taking
another unit, and a batch of jobs Redis had saved is not queued twice."""

import fakeredis
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from queuing_system.jobs import create_jobs, job_queue
from queuing_system.reservations import RECEIPT_TTL, RESERVE_ONE


def test_a_reservation_tried_twice_with_its_receipt_takes_one_unit():
    client = fakeredis.FakeRedis(decode_responses=True)
    keys = ["item.1", "receipt:same-request"]
    first = RESERVE_ONE(client, keys, [4, RECEIPT_TTL])
    again = RESERVE_ONE(client, keys, [4, RECEIPT_TTL])
    assert first == again == 3
    assert client.get("item.1") == "3"
    assert 0 < client.ttl("receipt:same-request") <= RECEIPT_TTL


class DropsTheFirstReply(fakeredis.FakeRedis):
    """Redis applies the first transaction, then the connection drops before its reply."""

    dropped = False

    def pipeline(self, *args, **kwargs):
        pipeline = super().pipeline(*args, **kwargs)
        execute = pipeline.execute

        def execute_then_drop(*a, **k):
            replies = execute(*a, **k)
            if not self.dropped:
                self.dropped = True
                raise redis.ConnectionError("Connection closed by server.")
            return replies

        pipeline.execute = execute_then_drop
        return pipeline


def test_a_batch_saved_before_its_reply_was_lost_is_queued_once():
    connection = DropsTheFirstReply()
    queue = job_queue("push_notification_code_3", connection)
    jobs = create_jobs(queue, "7_job_processor.process", [{"phoneNumber": "1", "message": "a"}] * 3)
    assert connection.dropped
    assert [job.id for job in jobs] == ["1", "2", "3"]
    assert Queue("push_notification_code_3", connection=connection, serializer=JSONSerializer).job_ids == [
        "1",
        "2",
        "3",
    ]
