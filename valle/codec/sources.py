"""Turn `--audio DIR_OR_MANIFEST` into a list of audio files (for `valle fit-codec`)."""

from __future__ import annotations

import os
from pathlib import Path

from valle.errors import DataError, MissingFileError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".opus")
MANIFEST_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")


def list_audio_files(source: str | os.PathLike[str]) -> list[Path]:
    """Audio files named by `source`, sorted.

    Args:
        source: a folder (searched recursively for wav/flac/ogg/mp3/opus), a lhotse recordings or cuts
            manifest (`*.jsonl.gz`; the recordings' files), or a text file listing one path per line
            (relative paths are relative to the list's folder).

    Raises:
        MissingFileError: `source` does not exist.
        DataError: it names no audio files, or a manifest cannot be read.
    """
    p = Path(source)
    if not p.exists():
        raise MissingFileError(f"audio source not found: {p}; pass a folder of audio files or a lhotse manifest")
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file())
    elif p.name.endswith(MANIFEST_SUFFIXES):
        files = _manifest_files(p)
    elif p.suffix.lower() in AUDIO_SUFFIXES:
        files = [p]
    else:
        lines = [line.strip() for line in p.read_text(encoding="utf-8").splitlines()]
        files = [(p.parent / line) if not Path(line).is_absolute() else Path(line) for line in lines if line]
    if not files:
        raise DataError(f"no audio files found in {p}; expected {', '.join(AUDIO_SUFFIXES)} files")
    return files


def _manifest_files(path: Path) -> list[Path]:
    from lhotse import CutSet, RecordingSet, load_manifest

    try:
        manifest = load_manifest(path)
    except Exception as e:  # lhotse raises several types for unknown/corrupt manifests
        raise DataError(f"cannot read manifest {path}: {e}") from e
    if isinstance(manifest, CutSet):
        recordings = [c.recording for c in manifest if getattr(c, "has_recording", False)]
    elif isinstance(manifest, RecordingSet):
        recordings = list(manifest)
    else:
        raise DataError(f"{path} is a {type(manifest).__name__}; pass a recordings or cuts manifest")
    files: dict[str, None] = {}
    for rec in recordings:
        for src in rec.sources:
            if src.type == "file":
                files.setdefault(str(src.source))
    return [Path(f) for f in files]
