"""``python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options ...] [--launcher ...]``: runs ``seglab test``."""

import sys

from seglab.cli import main

if __name__ == "__main__":
    sys.exit(main(["test", *sys.argv[1:]]))
