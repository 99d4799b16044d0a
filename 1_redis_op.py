#!/usr/bin/env python3
"""Task 2: set and read a string key with plain synchronous calls."""

from queuing_system.connection import make_client, wait_until_connected
from queuing_system.console import print_reply, say
from queuing_system.shutdown import run

client = make_client()


def set_new_school(school_name, value):
    print_reply(client.set(school_name, value))


def display_school_value(school_name):
    say(client.get(school_name))


def main():
    wait_until_connected(client)
    display_school_value("Holberton")
    set_new_school("HolbertonSanFrancisco", "100")
    display_school_value("HolbertonSanFrancisco")


if __name__ == "__main__":
    run(main)
