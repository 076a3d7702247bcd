"""The demo's per-system scores, kept beside the wavs they score so a rerun evaluates only what changed.

Why: scoring is most of a rerun's time (Whisper, resemblyzer and DNSMOS over every system's outputs, about
7 minutes on 2 cores), and a rerun that only adds a system, or finds nothing new, should not pay it again.
A system's summary is reused only while its wavs, their texts and prompts, the evaluation code and the
metric packages are exactly those that produced it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from functools import lru_cache
from pathlib import Path

from valle.utils import atomic_write, file_sha256

SCORES_FILE = "scores.json"
_METRIC_PACKAGES = ("faster-whisper", "resemblyzer", "speechmos")


def scoring_key(items: list, wavs: list[Path]) -> str:
    """sha256 over the scored wavs' bytes, each item's text, prompt and speaker, valle.eval's source, and the
    versions of the metric packages: any change to what the numbers depend on gives another key."""
    h = hashlib.sha256(_scorer_identity().encode())
    for it, wav in zip(items, wavs):
        h.update(json.dumps([wav.name, it.text, str(it.prompt), it.speaker, file_sha256(wav)]).encode())
    return h.hexdigest()


@lru_cache(maxsize=1)
def _scorer_identity() -> str:
    """valle.eval's source files and the metric packages' versions (the same for every system of a run)."""
    eval_pkg = Path(__file__).resolve().parent.parent / "eval"
    parts = [f"{src.name}:{file_sha256(src)}" for src in sorted(eval_pkg.glob("*.py"))]
    for pkg in _METRIC_PACKAGES:
        try:
            parts.append(f"{pkg}=={importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{pkg} missing")
    return "\n".join(parts)


def cached_summary(folder: Path, key: str) -> dict | None:
    """The summary stored in `folder` for `key`, or None (none stored, or made from other inputs)."""
    path = folder / SCORES_FILE
    if not path.is_file():
        return None
    stored = json.loads(path.read_text())
    return stored.get("summary") if stored.get("key") == key else None


def store_summary(folder: Path, key: str, summary: dict) -> None:
    with atomic_write(folder / SCORES_FILE) as tmp:
        tmp.write_text(json.dumps({"key": key, "summary": summary}, indent=1))
