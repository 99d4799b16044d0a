"""`python -m queuing_system`: the tour of every task, or the grading of anyone's ports
(queuing_system/grader/cli.py, or --help)."""

import sys

from .grader.cli import main

if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # before the grading started (or after it ended): nothing to stop
        sys.exit(130)
