"""``python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp] [--cfg-options ...] [--launcher pytorch|slurm|mpi]``.

The MMSegmentation entry point, kept for people with those habits; it runs ``seglab train``.
"""

import sys

from seglab.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
