"""`python -m valle.train ...` (what `torchrun --nproc-per-node N -m valle.train ...` runs): `valle train ...`."""

import sys

from valle.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["train", *sys.argv[1:]]))
