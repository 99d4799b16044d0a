"""`python -m queuing_system`: the tour of every task (see tour.py, or --help)."""

import sys

from .shutdown import run
from .grader.tour import main

if __name__ == "__main__":
    run(lambda: main(sys.argv[1:]))
