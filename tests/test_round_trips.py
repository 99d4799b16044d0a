"""round_trips: the Redis commands of requests answered at once go out together, each
request gets its own reply (or its own error), and a dropped connection costs none."""

import asyncio
import socket

import greenlet
import pytest
import redis

from queuing_system.lua import Script
from queuing_system.web.round_trips import RoundTrips


def answer_all(requests):
    """Run each of `requests` (functions) as a server's request, in a greenlet of its own on
    an event loop, until every one has ended: {index: what it returned or raised}."""
    loop = asyncio.new_event_loop()
    round_trips = RoundTrips()
    round_trips.loop = loop
    answers = {}

    def answering(index, request):
        try:
            answers[index] = request()
        except Exception as error:
            answers[index] = error

    async def serve():
        for index, request in enumerate(requests):
            round_trips.start(lambda index=index, request=request: answering(index, request))
        while len(answers) < len(requests):
            await asyncio.sleep(0)

    try:
        loop.run_until_complete(asyncio.wait_for(serve(), timeout=10))
    finally:
        loop.close()
    return answers


def count_writes(monkeypatch):
    """The system calls sending on a socket, from here on (each test uses one client)."""
    writes = []
    send = socket.socket.sendall

    def counted(sock, data, *flags):
        writes.append(data)
        return send(sock, data, *flags)

    monkeypatch.setattr(socket.socket, "sendall", counted)
    return writes


def test_the_commands_of_requests_answered_at_once_share_one_write(clients, monkeypatch):
    client, own = clients()
    writes = count_writes(monkeypatch)

    def request():
        return own.incr("counter"), own.get("counter")

    answers = answer_all([request] * 5)
    # Each INCR went out with the four others', then each GET: two writes, not ten.
    assert len(writes) == 2
    assert [answers[index] for index in range(5)] == [(index + 1, "5") for index in range(5)]


def test_each_request_gets_its_own_error_and_the_others_their_replies(clients, monkeypatch):
    client, own = clients()
    client.set("text", "not a number")
    client.script_flush()  # another test may have loaded the failing script: this one loads it
    writes = count_writes(monkeypatch)
    failing = Script("return redis.call('NOSUCHCOMMAND')")
    requests = [lambda: own.incr("counter"), lambda: own.incr("text"), lambda: failing(own)]
    answers = answer_all([*requests, lambda: own.get("counter")])
    assert answers[0] == 1
    assert isinstance(answers[1], redis.ResponseError)
    assert isinstance(answers[2], redis.ResponseError)
    assert answers[3] == "1"
    assert len(writes) == 3  # all four; then the failing script's SCRIPT LOAD; its EVALSHA again
    assert own.get("counter") == "1"  # the connection is still in step


def test_requests_whose_connection_dropped_are_sent_again_on_a_new_one_and_answered(clients):
    client, own = clients()
    client.client_kill_filter(_id=own.client_id())  # Redis drops own's connection
    answers = answer_all([lambda: own.incr("counter")] * 3)
    assert sorted(answers.values()) == [1, 2, 3]
    assert client.get("counter") == "3"


def test_commands_outside_a_request_are_sent_at_once(clients, monkeypatch):
    client, own = clients()
    monkeypatch.setattr(RoundTrips, "wait", lambda *args: pytest.fail("a command waited outside a request"))
    assert own.incr("counter") == 1
    thread_answer = []

    def in_a_greenlet():
        thread_answer.append(own.incr("counter"))

    greenlet.greenlet(in_a_greenlet).switch()  # not an answering greenlet
    assert thread_answer == [2]


def test_a_stop_ends_the_requests_whose_commands_were_not_sent(clients):
    client, own = clients()
    loop = asyncio.new_event_loop()
    round_trips = RoundTrips()
    round_trips.loop = loop
    ended = []

    def request():
        try:
            own.incr("counter")
        finally:
            ended.append(greenlet.getcurrent())

    async def start_then_stop():
        round_trips.start(request)
        round_trips.close()  # before the loop's next turn would have sent it

    try:
        loop.run_until_complete(start_then_stop())
        loop.run_until_complete(asyncio.sleep(0))  # the turn that would have sent it
    finally:
        loop.close()
    assert len(ended) == 1 and ended[0].dead
    assert client.get("counter") is None  # never sent


def test_a_failure_to_send_is_each_requests_error_and_none_is_left_waiting(clients, monkeypatch):
    client, own = clients()

    def broken(commands):
        raise RuntimeError("a bug")

    monkeypatch.setattr(own, "send_all", broken)
    answers = answer_all([lambda: own.incr("counter")] * 3)
    assert [type(answer) for answer in answers.values()] == [RuntimeError] * 3


def test_a_greenlet_that_answered_answers_the_next_requests():
    # A new one costs a 16 KB stack, mapped and unmapped by the kernel: one per request
    # was two system calls more than the round trip they shared.
    round_trips = RoundTrips()
    used = []

    def request():
        used.append(greenlet.getcurrent())

    for _ in range(3):
        round_trips.start(request)
    assert len(used) == 3 and len(set(used)) == 1
    round_trips.close()
    assert used[0].dead
