#!/usr/bin/env python3
"""Task 2: set and read a string key with redis-py's plain, synchronous calls."""

import argparse

import queuing_system as qs

client = None  # main() makes it, as the original made its client at the top


def set_new_school(school_name, value):
    qs.print_reply(client.set(school_name, value))  # node_redis's redis.print: `Reply: OK`


def display_school_value(school_name):
    qs.say(client.get(school_name))  # None for a missing key


def main(argv=None):
    global client
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    client = qs.make_client(decode_responses=True)  # redis-py's Redis for REDIS_URL, reading text
    qs.wait_until_connected(client)  # the connected line, or a retry per not-connected line
    display_school_value("Holberton")
    set_new_school("HolbertonSanFrancisco", "100")
    display_school_value("HolbertonSanFrancisco")


if __name__ == "__main__":
    qs.run(main)
