#!/usr/bin/env python3
"""Task 4: store a hash one field at a time, then read it whole."""

from queuing_system.connection import make_client, wait_until_connected
from queuing_system.console import print_reply, say
from queuing_system.shutdown import run

HASH_KEY = "HolbertonSchools"
SCHOOLS = {
    "Portland": 50,
    "Seattle": 80,
    "New York": 20,
    "Bogota": 20,
    "Cali": 40,
    "Paris": 2,
}

client = make_client()


def store_schools():
    for city, value in SCHOOLS.items():
        print_reply(client.hset(HASH_KEY, city, value))


def display_schools():
    say(client.hgetall(HASH_KEY))


def main():
    wait_until_connected(client)
    store_schools()
    display_schools()


if __name__ == "__main__":
    run(main)
