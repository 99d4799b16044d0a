"""Running a function as an app's request runs: in an answering greenlet on an event loop."""

import asyncio
import time

import greenlet

from queuing_system.web.round_trips import RoundTrips


def in_a_request(function, deadline_in):
    """Run `function()` as an app's request does, in an answering greenlet on an event loop,
    with its deadline `deadline_in` seconds away; meanwhile count the loop's turns.
    Returns (what it returned or raised, seconds it took, the loop's turns meanwhile)."""
    loop = asyncio.new_event_loop()
    round_trips = RoundTrips()
    round_trips.loop = loop
    outcome, turns = [], [0]

    def request():
        greenlet.getcurrent().deadline = time.monotonic() + deadline_in
        started = time.monotonic()
        try:
            answer = function()
        except Exception as error:
            answer = error
        outcome.append((answer, time.monotonic() - started))

    async def serve():
        round_trips.start(request)
        while not outcome:
            turns[0] += 1
            await asyncio.sleep(0.01)

    try:
        loop.run_until_complete(asyncio.wait_for(serve(), timeout=30))
    finally:
        loop.close()
    return (*outcome[0], turns[0])
