#!/usr/bin/env python3
"""Task 5: publish four messages on the channel, the third one telling subscribers to stop."""

import time

from queuing_system.connection import make_client, wait_until_connected
from queuing_system.console import say
from queuing_system.shutdown import run

CHANNEL = "holberton school channel"

client = make_client()


def publish_message(message, time_ms):
    time.sleep(time_ms / 1000)
    say(f"About to send {message}")
    client.publish(CHANNEL, message)


def main():
    wait_until_connected(client)
    publish_message("Holberton Student #1 starts course", 100)
    publish_message("Holberton Student #2 starts course", 200)
    publish_message("KILL_SERVER", 300)
    publish_message("Holberton Student #3 starts course", 400)


if __name__ == "__main__":
    run(main)
