#!/usr/bin/env python3
"""Task 2: set and read a string key with redis-py's plain, synchronous calls."""

import queuing_system as qs

client = None  # REDIS_URL's, made by main() or by the first call that needs it


def redis_client():
    global client
    if client is None:
        client = qs.make_client(decode_responses=True)  # Redis.from_url($REDIS_URL); text, not bytes
    return client


def set_new_school(school_name, value):
    qs.print_reply(redis_client().set(school_name, value))  # node_redis's redis.print: `Reply: OK`


def display_school_value(school_name):
    qs.say(redis_client().get(school_name))  # None for a missing key; one write, flushed


def main(argv=None):
    qs.ArgumentParser(description=__doc__).parse_args(argv)  # argparse's, with --log-format
    qs.wait_until_connected(redis_client())  # the connected line, or a retry per not-connected line
    display_school_value("Holberton")
    set_new_school("HolbertonSanFrancisco", "100")
    display_school_value("HolbertonSanFrancisco")


if __name__ == "__main__":
    qs.run(main)  # exit 0 on SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us: never a traceback
