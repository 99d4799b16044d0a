#!/usr/bin/env python3
"""Task 5: print every message on the channel until KILL_SERVER arrives.

Like the original client, a lost connection is retried (a not-connected line per failed
attempt), and the channel is subscribed again once the server is back.
"""

import redis

from queuing_system.connection import NOT_CONNECTED, describe, make_client, wait_until_connected
from queuing_system.console import say
from queuing_system.shutdown import run

CHANNEL = "holberton school channel"
KILL_MESSAGE = "KILL_SERVER"

client = make_client()


def listen(pubsub):
    for message in pubsub.listen():
        say(message["data"])
        if message["data"] == KILL_MESSAGE:
            pubsub.unsubscribe(CHANNEL)
            return


def subscribe_and_listen():
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(CHANNEL)
        listen(pubsub)
    finally:
        pubsub.close()


def main():
    while True:
        wait_until_connected(client)
        try:
            return subscribe_and_listen()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            say(NOT_CONNECTED.format(error=describe(error)))


if __name__ == "__main__":
    run(main)
