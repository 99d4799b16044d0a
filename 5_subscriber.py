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
        qs.say(message["data"])  # one write, flushed; a message that could forge lines is escaped
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
    client = qs.make_client(decode_responses=True)  # Redis.from_url($REDIS_URL); text, not bytes
    while True:
        qs.wait_until_connected(client)  # the connected line, or a retry per not-connected line
        try:
            return subscribe_and_listen(client)
        except (redis.ConnectionError, redis.TimeoutError) as error:  # lost: connect and subscribe again
            qs.say(qs.not_connected(error))  # the spec's line, any password masked


if __name__ == "__main__":
    qs.run(main)  # exit 0 on SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us: never a traceback
