"""Every function SPEC.md names works when called exactly as SPEC.md writes it, on the Redis
of REDIS_URL, as a learner would try it: `import 100_seat; reserve_seat(7)`.

Each call runs in a fresh interpreter, in the scripts' directory, with REDIS_URL and nothing
else set up: no main(), no client handed in.
"""

import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from queuing_system.grader.harness import run_script

# (module, Python that calls its functions as SPEC.md writes them, what it prints)
CALLS = {
    "1_redis_op": (
        "m.set_new_school('HolbertonSanFrancisco', '100'); m.display_school_value('HolbertonSanFrancisco')",
        "Reply: OK\n100\n",
    ),
    "2_redis_op_async": (
        "import asyncio; asyncio.run(m.set_new_school('HolbertonSanFrancisco', '100')); "
        "asyncio.run(m.display_school_value('HolbertonSanFrancisco'))",
        "Reply: OK\n100\n",
    ),
    "5_publisher": ("m.publish_message('Holberton Student #1 starts course', 10)", None),
    "6_job_processor": (
        "m.send_notification('4153518780', 'This is the code')",
        "Sending notification to 4153518780, with message: This is the code\n",
    ),
    "7_job_processor": (
        "from redis import Redis; from rq import Queue; from rq.serializers import JSONSerializer; "
        "q = Queue('push_notification_code_2', connection=Redis.from_url(os.environ['REDIS_URL']), "
        "serializer=JSONSerializer); "
        "job = q.enqueue('7_job_processor.process', {'phoneNumber': '4153518743', 'message': 'hi'}); "
        "m.send_notification('4153518743', 'hi', job)",
        "Sending notification to 4153518743, with message: hi\n",
    ),
    "8_job": (
        "from redis import Redis; from rq import Queue; from rq.serializers import JSONSerializer; "
        "q = Queue('push_notification_code_3', connection=Redis.from_url(os.environ['REDIS_URL']), "
        "serializer=JSONSerializer); "
        "m.create_push_notifications_jobs([{'phoneNumber': '4153518743', 'message': 'hi'}], q)",
        "Notification job created: 1\n",
    ),
    "9_stock": (
        "print(m.list_products[0]['itemName'], m.get_item_by_id(1)['price'], "
        "m.get_current_reserved_stock_by_id(1)); m.reserve_stock_by_id(1, 3); "
        "print(m.get_current_reserved_stock_by_id(1))",
        "Suitcase 250 50 None\n3\n",
    ),
    "100_seat": (
        "m.reserve_seat(7); print(repr(m.get_current_available_seats()))",
        "'7'\n",
    ),
}


def call_as_the_spec_writes_it(module, code, url):
    program = f"import importlib, os; m = importlib.import_module({module!r}); {code}"
    return run_script("-c", url, program, timeout=30)


@pytest.mark.parametrize("module", sorted(CALLS))
def test_a_spec_function_called_as_the_spec_writes_it_works_on_redis_url(module, redis_url):
    code, printed = CALLS[module]
    result = call_as_the_spec_writes_it(module, code, redis_url)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    if printed is not None:
        assert result.stdout == printed


def test_what_the_spec_functions_wrote_is_in_redis_urls_redis(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    for module in ("1_redis_op", "9_stock", "100_seat"):
        assert call_as_the_spec_writes_it(module, CALLS[module][0], redis_url).returncode == 0
    assert client.get("HolbertonSanFrancisco") == "100"
    assert client.get("item.1") == "3"
    assert client.get("available_seats") == "7"


def test_create_push_notifications_jobs_as_the_spec_writes_it_queues_on_redis_url(redis_url):
    assert call_as_the_spec_writes_it("8_job", CALLS["8_job"][0], redis_url).returncode == 0
    queue = Queue(
        "push_notification_code_3", connection=redis.Redis.from_url(redis_url), serializer=JSONSerializer
    )
    assert queue.job_ids == ["1"]
    assert list(queue.jobs[0].args) == [{"phoneNumber": "4153518743", "message": "hi"}]


def test_create_push_notifications_jobs_refuses_a_non_list_in_the_originals_words(redis_url):
    code = "m.create_push_notifications_jobs('not a list', None)"
    result = call_as_the_spec_writes_it("8_job", f"exec({code!r})", redis_url)
    assert result.returncode == 1
    assert result.stderr.rstrip().endswith("Jobs is not an array")


def test_publish_message_publishes_on_redis_urls_channel(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("holberton school channel")
    result = call_as_the_spec_writes_it("5_publisher", CALLS["5_publisher"][0], redis_url)
    assert (result.returncode, result.stdout) == (0, "About to send Holberton Student #1 starts course\n")
    # the first read answers the subscribe confirmation, which is ignored (None)
    messages = [pubsub.get_message(timeout=2) for _ in range(3)]
    assert [message["data"] for message in messages if message] == ["Holberton Student #1 starts course"]
    pubsub.close()
