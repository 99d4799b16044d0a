"""Every script on REDIS_URL=redis+sentinel://...: the primary found through the Sentinels,
the spec's lines as on a plain URL. (Before Sentinel URLs were read, each exited 1.)"""

import pytest
import redis
import redis.sentinel

from queuing_system.grader.expected import (
    ADVANCED_OP_FIRST_RUN,
    CONNECTED,
    PUBLISHER,
    REDIS_OP,
    SUBSCRIBER,
    TASK8_DATA,
    creator_differences,
    processor_differences,
    reservation_confirmed,
    task9_processor,
    transcript,
)
from queuing_system.grader.harness import creator_quiet, http_get, processing, run_script, wait_for

pytestmark = pytest.mark.xdist_group("sentinels")


@pytest.mark.parametrize(
    "script, expected",
    [("0_redis_client.py", [CONNECTED]), ("1_redis_op.py", REDIS_OP), ("2_redis_op_async.py", REDIS_OP)],
)
def test_tasks_1_to_3_print_the_spec_lines_on_a_sentinel_url(sentinels, sentinel_url, script, expected):
    redis.Redis.from_url(sentinels.plain_url()).set("Holberton", "School")
    result = run_script(script, sentinel_url)
    assert (result.returncode, result.stdout, result.stderr) == (0, transcript(expected), "")


def test_task_4_and_the_publisher_and_subscriber_on_a_sentinel_url(sentinels, sentinel_url, scripts):
    result = run_script("4_redis_advanced_op.py", sentinel_url)
    assert (result.returncode, result.stdout, result.stderr) == (0, transcript(ADVANCED_OP_FIRST_RUN), "")
    primary = redis.Redis.from_url(sentinels.plain_url())
    sub = scripts("5_subscriber.py", sentinel_url)
    assert sub.next_line() == CONNECTED
    wait_for(lambda: primary.pubsub_numsub("holberton school channel")[0][1] == 1)
    pub = run_script("5_publisher.py", sentinel_url)
    assert (pub.returncode, pub.stdout, pub.stderr) == (0, transcript(PUBLISHER), "")
    assert sub.wait() == 0 and sub.output == SUBSCRIBER and sub.stderr == ""


def test_jobs_and_apps_on_a_sentinel_url_print_the_spec_lines_and_write_the_primary(
    sentinels, sentinel_url, scripts, start_app
):
    worker = scripts("7_job_processor.py", sentinel_url)
    creator = scripts("7_job_creator.py", sentinel_url)
    assert creator.wait() == 0
    assert creator_differences(creator.output, TASK8_DATA, first_id=1) == []
    for _ in range(9):
        worker.next_line()
    assert worker.stop() == 0
    assert processor_differences(worker.output, task9_processor()) == []
    assert creator_quiet(creator.stderr) and worker.stderr == processing("push_notification_code_2", 2)
    stock, base = start_app("9_stock.py", sentinel_url)
    assert http_get(base + "/reserve_product/2")[2] == reservation_confirmed(2)
    assert stock.stop() == 0 and stock.stderr.count("\n") == 1  # where it listens, and nothing else
    primary = sentinels.primary()
    for node in sentinels.nodes:  # the primary's, and each replica's
        client = node.client()
        assert client.get("queuing:job_ids") == "11", node.name
        assert client.get("item.2") == "9", node.name
        assert client.hget("rq:job:11", "status") in ("finished", "failed"), node.name
    assert primary.role() == "master"


def test_the_dashboard_reads_the_primary_through_the_sentinels(sentinels, sentinel_url):
    dashboard = pytest.importorskip("queuing_system.web.dashboard")
    redis.Redis.from_url(sentinels.plain_url()).rpush("rq:queues", "rq:queue:push_notification_code_2")
    app = dashboard.create_app(sentinel_url)
    pool = app.redis_conn.connection_pool
    assert isinstance(pool, redis.sentinel.SentinelConnectionPool)
    assert app.redis_conn.ping() and pool.master_address == ("127.0.0.1", sentinels.primary().port)
