#!/usr/bin/env python3
"""Task 5: print every message on the channel until KILL_SERVER arrives.

Like the original client, a lost connection is retried (a not-connected line per failed
attempt), and the channel is subscribed again once the server is back.
"""

import redis

import queuing_system as qs

CHANNEL = "holberton school channel"
KILL_MESSAGE = "KILL_SERVER"


def listen(pubsub):
    for message in pubsub.listen():  # blocks for each message; subscribe confirmations ignored
        qs.say(message["data"])
        if message["data"] == KILL_MESSAGE:
            pubsub.unsubscribe(CHANNEL)
            return


def subscribe_and_listen(client):
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(CHANNEL)
        listen(pubsub)
    finally:
        pubsub.close()


def main(argv=None):
    qs.ArgumentParser(description=__doc__).parse_args(argv)  # argparse's, with --log-format
    client = redis.Redis.from_url(qs.redis_url(), decode_responses=True)
    while True:
        qs.wait_until_connected(client)
        try:
            return subscribe_and_listen(client)
        except (redis.ConnectionError, redis.TimeoutError) as error:  # lost: connect and subscribe again
            qs.say(qs.not_connected(error))


if __name__ == "__main__":
    qs.run(main)
