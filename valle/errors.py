"""The error family every user-facing failure belongs to.

Library code raises one of these with a single sentence that names the bad value and says what to do.
`valle.cli` turns any `ValleError` into one line on stderr and exit code 2; anything else is a bug and
keeps its traceback.  The subclasses also inherit the matching builtin (`ValueError`,
`FileNotFoundError`, ...) so callers of the Python API can catch what they would naturally expect.
"""

from __future__ import annotations


class ValleError(Exception):
    """Base class of errors caused by the user's input, data or environment (not by a bug)."""


class InvalidInputError(ValleError, ValueError):
    """An argument, option combination or input value is not acceptable."""


class MissingFileError(ValleError, FileNotFoundError):
    """A file or folder the user named (or that a previous step should have written) does not exist."""


class DataError(ValleError, ValueError):
    """A file exists but its content cannot be used (corrupt audio, malformed manifest, empty text)."""


class CheckpointError(ValleError, ValueError):
    """A checkpoint cannot be loaded or does not match what it is used with."""


class MissingDependencyError(ValleError, RuntimeError):
    """An optional program or package is required for this feature and is not installed."""


def require_finite_nonnegative(name: str, value: float) -> None:
    """Raise `InvalidInputError` unless `value` is a finite number >= 0 (NaN fails too: every comparison is False)."""
    if not 0.0 <= value < float("inf"):
        raise InvalidInputError(f"{name} must be a finite number >= 0, got {value}")
