"""The `valle` command line: argument parsing only.

Each subcommand lives in its own module under `valle/commands/` and is discovered automatically, so
adding a command never means editing this file.  A command module defines:

    NAME: str                          # the subcommand, e.g. "synth-corpus"
    HELP: str                          # one line for `valle --help`
    def add_arguments(parser) -> None  # its flags
    def run(args) -> int | None        # does the work by calling library code; returns the exit code

Command modules import heavy libraries (torch, lhotse) inside `run`, so `valle --help` stays fast.
Any `ValleError` raised below becomes one line on stderr and exit code 2 (no traceback); so do an
argparse error and a file-system error on the user's paths or disk (`valle.errors.os_error_message`; `-v` keeps
its traceback).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from valle import __version__
from valle.errors import ValleError, os_error_message

EXIT_USAGE = 2  # user error: bad flag, bad input, missing file


class OneLineParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single line (`valle train: error: ...`) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


class DefaultsFormatter(argparse.HelpFormatter):
    """`--help` that names each option's default, unless its text already says it.

    Why not argparse's ArgumentDefaultsHelpFormatter: it appends "(default: ...)" to every option, so help that
    already explains its default ("default: the checkpoint's") would say it twice, and on/off switches would read
    "(default: False)".
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = (
            action.option_strings
            and not isinstance(action, (argparse._StoreConstAction, argparse._CountAction, argparse._HelpAction))
            and action.default not in (None, "", [], argparse.SUPPRESS)
            and "default" not in text.lower()
        )
        return f"{text} (default: %(default)s)" if shown else text


def _command_modules() -> list[ModuleType]:
    import valle.commands as pkg

    modules = [importlib.import_module(f"valle.commands.{m.name}") for m in pkgutil.iter_modules(pkg.__path__)]
    return sorted((m for m in modules if hasattr(m, "NAME")), key=lambda m: m.NAME)


def build_parser() -> argparse.ArgumentParser:
    """The full parser: global flags plus one sub-parser per command module."""
    parser = OneLineParser(prog="valle", description="VALL-E zero-shot text-to-speech.")
    parser.add_argument("--version", action="version", version=f"valle {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP, formatter_class=DefaultsFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `valle` console script; returns the process exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # named by the subcommand they were given to, whose --help lists what it takes
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from valle.utils import setup_logging

    setup_logging(-1 if args.quiet else args.verbose)
    try:
        code = args._run(args)
    except ValleError as e:
        sys.stderr.write(f"valle {args.command}: error: {e}\n")
        return EXIT_USAGE
    except OSError as e:
        message = os_error_message(e)
        if message is None or args.verbose:
            raise
        sys.stderr.write(f"valle {args.command}: error: {message}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write(f"valle {args.command}: interrupted\n")
        return 130
    logging.shutdown()
    return int(code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
