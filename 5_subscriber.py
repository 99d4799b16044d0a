#!/usr/bin/env python3
"""Task 5: print every message on the channel until KILL_SERVER arrives."""

from queuing_system.connection import make_client, wait_until_connected
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


def main():
    wait_until_connected(client)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    try:
        listen(pubsub)
    finally:
        pubsub.close()


if __name__ == "__main__":
    run(main)
