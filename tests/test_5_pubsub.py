import importlib
import signal

import redis

from queuing_system.grader.expected import CONNECTED, NOT_CONNECTED_PREFIX, PUBLISHER, SUBSCRIBER, transcript
from queuing_system.grader.harness import run_script, wait_for
from queuing_system.grader.redis_server import RedisServer

subscriber = importlib.import_module("5_subscriber")
publisher = importlib.import_module("5_publisher")


def subscribed(url):
    client = redis.Redis.from_url(url)
    return lambda: client.pubsub_numsub(subscriber.CHANNEL)[0][1] == 1


def test_publish_message_waits_then_prints_and_publishes(fake_redis, monkeypatch, capsys):
    monkeypatch.setattr(publisher, "client", fake_redis)
    pubsub = fake_redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(publisher.CHANNEL)
    publisher.publish_message("hello", 1)
    assert capsys.readouterr().out == "About to send hello\n"
    # the first read answers the subscribe confirmation, which is ignored (None)
    messages = [pubsub.get_message(timeout=0.2) for _ in range(3)]
    assert [message["data"] for message in messages if message] == ["hello"]


def test_subscriber_and_publisher_print_the_spec_transcripts(redis_url, scripts):
    sub = scripts("5_subscriber.py", redis_url)
    assert sub.next_line() == CONNECTED
    wait_for(subscribed(redis_url))
    pub = run_script("5_publisher.py", redis_url)
    assert (pub.returncode, pub.stdout, pub.stderr) == (0, transcript(PUBLISHER), "")
    assert sub.wait() == 0
    assert sub.output == SUBSCRIBER
    assert sub.stderr == ""


def test_subscriber_stops_cleanly_on_sigterm_and_ctrl_c(redis_url, scripts):
    for sig, code in ((signal.SIGTERM, 0), (signal.SIGINT, 130)):
        sub = scripts("5_subscriber.py", redis_url)
        assert sub.next_line() == CONNECTED
        wait_for(subscribed(redis_url))
        assert sub.stop(sig) == code
        assert sub.stderr == ""


def test_subscriber_reconnects_and_resubscribes_after_a_redis_restart(scripts):
    with RedisServer() as server:
        sub = scripts("5_subscriber.py", server.url)
        assert sub.next_line() == CONNECTED
        wait_for(subscribed(server.url))
        server.stop()
        assert sub.next_line().startswith(NOT_CONNECTED_PREFIX)  # one per failed attempt
        server.start()  # same port, empty
        while (line := sub.next_line()) != CONNECTED:
            assert line.startswith(NOT_CONNECTED_PREFIX)
        wait_for(subscribed(server.url))
        pub = run_script("5_publisher.py", server.url)
        assert pub.stdout == transcript(PUBLISHER)
        assert sub.wait() == 0
    assert sub.output[-3:] == SUBSCRIBER[1:]
    assert sub.stderr == ""
