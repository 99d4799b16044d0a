#!/usr/bin/env python3
"""Task 5: publish four messages on the channel, the third one telling subscribers to stop."""

import argparse
import time

import queuing_system as qs

CHANNEL = "holberton school channel"

client = None  # main() makes it


def publish_message(message, time_ms):
    time.sleep(time_ms / 1000)  # the original's setTimeout
    qs.say(f"About to send {message}")
    client.publish(CHANNEL, message)


def main(argv=None):
    global client
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    client = qs.make_client(decode_responses=True)  # redis-py's Redis for REDIS_URL
    qs.wait_until_connected(client)
    publish_message("Holberton Student #1 starts course", 100)
    publish_message("Holberton Student #2 starts course", 200)
    publish_message("KILL_SERVER", 300)
    publish_message("Holberton Student #3 starts course", 400)


if __name__ == "__main__":
    qs.run(main)
