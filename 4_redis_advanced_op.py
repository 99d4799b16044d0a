#!/usr/bin/env python3
"""Task 4: store a hash one field at a time (HSET), then read it whole (HGETALL)."""

import queuing_system as qs

HASH_KEY = "HolbertonSchools"
SCHOOLS = {
    "Portland": 50,
    "Seattle": 80,
    "New York": 20,
    "Bogota": 20,
    "Cali": 40,
    "Paris": 2,
}

client = None  # main() makes it


def store_schools():
    for city, value in SCHOOLS.items():
        qs.print_reply(client.hset(HASH_KEY, city, value))  # 1 for a new field, 0 for a changed one


def display_schools():
    qs.say(client.hgetall(HASH_KEY))  # a dict, in the order the fields were stored


def main(argv=None):
    global client
    qs.ArgumentParser(description=__doc__).parse_args(argv)  # argparse's, with --log-format
    client = qs.make_client(decode_responses=True)  # Redis.from_url($REDIS_URL); text, not bytes
    qs.wait_until_connected(client)  # the connected line, or a retry per not-connected line
    store_schools()
    display_schools()


if __name__ == "__main__":
    qs.run(main)  # exit 0 on SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us: never a traceback
