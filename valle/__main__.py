"""`python -m valle` runs the command-line interface."""

from valle.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
