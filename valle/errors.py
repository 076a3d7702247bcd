"""The error family every user-facing failure belongs to.

Library code raises one of these with a single sentence that names the bad value and says what to do.
`valle.cli` turns any `ValleError` into one line on stderr and exit code 2, and so a file-system error on the
user's paths or disk (`os_error_message`); anything else is a bug and keeps its traceback.  The subclasses also
inherit the matching builtin (`ValueError`, `FileNotFoundError`, ...) so callers of the Python API can catch what
they would naturally expect.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


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


def require_file(path: str | os.PathLike[str], what: str, hint: str) -> Path:
    """`path` as a `Path` when it is a file, else `MissingFileError`: "`what` PATH is a folder / does not exist; `hint`".

    Why: a folder where a file is expected passes an `exists()` check and then fails deep inside a reader with a
    message about something else ("Is a directory", "pop from empty list").
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{what} {p} {'is a folder, not a file' if p.is_dir() else 'does not exist'}; {hint}")
    return p


def require_finite_nonnegative(name: str, value: float) -> None:
    """Raise `InvalidInputError` unless `value` is a finite number >= 0 (NaN fails too: every comparison is False)."""
    if not 0.0 <= value < float("inf"):
        raise InvalidInputError(f"{name} must be a finite number >= 0, got {value}")


# What to do about a file-system error the user's paths or machine caused (not a bug in valle).
_OS_ERROR_HINTS = {
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a file stands where a folder is needed; choose another path",
    errno.EEXIST: "a file stands where a folder is needed; choose another path",
    errno.EISDIR: "a folder stands where a file is needed; choose another path",
    errno.EACCES: "choose a path you may write to, or fix its permissions",
    errno.EPERM: "choose a path you may write to, or fix its permissions",
    errno.EROFS: "the file system is read-only; choose a path on a writable disk",
    errno.ENOSPC: "the disk is full; free some space or choose another disk",
    errno.EDQUOT: "the disk quota is used up; free some space or choose another disk",
    errno.ENAMETOOLONG: "choose a shorter path",
}


def os_error_message(e: OSError) -> str | None:
    """One line naming the path and what to do for a file-system error caused by the user's paths or disk.

    Why: an output folder under a file, a read-only or full disk, or a missing permission is the user's to fix,
    and it can surface from deep inside any command (`mkdir`, `open`, `torch.save`); the CLI turns it into the
    same one-line exit-2 error as a `ValleError`.  Returns None for any other `OSError` (a bug keeps its
    traceback).
    """
    hint = _OS_ERROR_HINTS.get(e.errno) if e.errno is not None else None
    if hint is None or e.filename is None:
        return None
    where = f"{e.filename}" if e.filename2 is None else f"{e.filename} -> {e.filename2}"
    return f"{e.strerror or 'file system error'}: {where}; {hint}"
