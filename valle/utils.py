"""Small helpers shared by every stage: logging setup, atomic writes, file hashes, thread control."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"


def setup_logging(verbose: int = 0) -> None:
    """Configure root logging once for a command-line run (library code never calls this).

    Args:
        verbose: 0 = INFO, >=1 = DEBUG, negative = WARNING only.
    """
    level = logging.DEBUG if verbose > 0 else logging.INFO if verbose == 0 else logging.WARNING
    logging.basicConfig(level=level, format=LOG_FORMAT, datefmt="%H:%M:%S", force=True)


def make_parents(*paths: str | os.PathLike[str]) -> None:
    """Create each output path's folder now, so that a path that cannot be written (a file where a folder should
    be, no permission) fails before minutes of work instead of after them."""
    for folder in sorted({Path(p).parent for p in paths}):
        folder.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    Why: a crash or SIGKILL half-way through writing a checkpoint or manifest must never leave a
    truncated file under the final name (a rerun would treat it as finished).

    Example:
        with atomic_write("out/cuts.jsonl.gz") as tmp:
            cuts.to_file(tmp)
    """
    del mode  # the caller opens the temporary path itself, in whatever mode it needs
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Keep the real suffix(es) so libraries that pick a format from the name (".jsonl.gz") still work.
    suffix = "".join(target.suffixes)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the final file gets normal permissions
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks (checkpoints are tens of MiB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def set_num_threads(num_threads: int | None) -> None:
    """Set torch's intra-op threads when `num_threads` is given (None leaves torch's default).

    On a loaded 2-core machine 2 threads can be far slower than 1 for small ops, so every command
    that runs a model exposes this as `--num-threads`.
    """
    if num_threads is None:
        return
    if num_threads < 1:
        from valle.errors import InvalidInputError

        raise InvalidInputError(f"--num-threads must be >= 1, got {num_threads}")
    import torch

    torch.set_num_threads(num_threads)


@contextlib.contextmanager
def flush_denormals() -> Iterator[bool]:
    """Treat denormal floats as zero on the CPU while inside (yields whether the CPU supports it).

    Why: a trained, confident network's backward pass fills with denormals (probabilities of e-40 and their
    gradients), which x86 CPUs compute on a slow path.  The code reader's training step took 2.5x as long from
    its own checkpoint as from random weights (7.3 s against 2.9 s for the same batch); flushed, 2.9 s.  Values
    that small carry nothing a float32 model can use.
    """
    import torch

    on = torch.set_flush_denormal(True)
    try:
        yield on
    finally:
        torch.set_flush_denormal(False)


def resolve_device(spec: Any = None, local_rank: int = 0) -> Any:
    """The `torch.device` a `--device` value names, or an `InvalidInputError` in one line.

    None or "auto" = CUDA when available, else the CPU; "cuda" = cuda:`local_rank` (a DDP process's own GPU);
    "mps" = Apple silicon's GPU where torch has it.
    Why here: torch's own errors for a misspelt name or a CUDA device on a CPU-only build are tracebacks, and every
    command that runs a model takes the flag.
    """
    import torch

    from valle.errors import InvalidInputError

    given = str(spec) if spec is not None else "auto"
    if given == "auto":
        given = "cuda" if torch.cuda.is_available() else "cpu"
    usage = "use auto, cpu, cuda, cuda:N or mps"
    try:
        device = torch.device(f"cuda:{local_rank}" if given == "cuda" else given)
    except (RuntimeError, TypeError):
        raise InvalidInputError(f"unknown --device {given!r}; {usage}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InvalidInputError(f"--device {given}: CUDA is not available on this machine; use --device cpu")
        if device.index is not None and device.index >= count:
            raise InvalidInputError(
                f"--device {given}: this machine has {count} CUDA device(s); use cuda:0 .. cuda:{count - 1}"
            )
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise InvalidInputError(f"--device {given}: Apple's MPS is not available on this machine; use --device cpu")
    elif device.type != "cpu":
        raise InvalidInputError(f"unsupported --device {given!r}; {usage}")
    return device


def cache_path(name: str, env_var: str | None = None) -> Path:
    """`$env_var` if set, else `name` under valle's cache folder (`$XDG_CACHE_HOME/valle`, `~/.cache/valle`)."""
    override = os.environ.get(env_var) if env_var else None
    if override:
        return Path(override)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "valle" / name
