#!/usr/bin/env python3
"""Task 1: connect to Redis and say whether it worked (retrying until it does)."""

from queuing_system.connection import connect
from queuing_system.shutdown import run


def main():
    connect()


if __name__ == "__main__":
    run(main)
