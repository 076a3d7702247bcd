"""One module per `valle` subcommand (discovered by `valle.cli`); see `valle/cli.py` for the contract."""
