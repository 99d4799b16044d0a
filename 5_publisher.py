#!/usr/bin/env python3
"""Task 5: publish four messages on the channel, the third one telling subscribers to stop."""

import time

import queuing_system as qs

CHANNEL = "holberton school channel"

client = None  # REDIS_URL's, made by main() or by the first call that needs it


def redis_client():
    global client
    if client is None:
        client = qs.make_client(decode_responses=True)  # Redis.from_url($REDIS_URL); text, not bytes
    return client


def publish_message(message, time_ms):
    time.sleep(time_ms / 1000)  # the original's setTimeout
    qs.say(f"About to send {message}")  # one write, flushed, untrusted text escaped
    redis_client().publish(CHANNEL, message)


def main(argv=None):
    qs.ArgumentParser(description=__doc__).parse_args(argv)  # argparse's, with --log-format
    qs.wait_until_connected(redis_client())  # the connected line, or a retry per not-connected line
    publish_message("Holberton Student #1 starts course", 100)
    publish_message("Holberton Student #2 starts course", 200)
    publish_message("KILL_SERVER", 300)
    publish_message("Holberton Student #3 starts course", 400)


if __name__ == "__main__":
    qs.run(main)  # exit 0 on SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us: never a traceback
