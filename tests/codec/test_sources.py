"""`--audio DIR_OR_MANIFEST` resolution for fit-codec."""

from __future__ import annotations

from pathlib import Path

import pytest

from valle.codec.sources import list_audio_files
from valle.errors import DataError


def test_folder_manifest_and_list_agree(small_corpus: Path, tmp_path: Path) -> None:
    from lhotse import CutSet, Recording, RecordingSet

    folder = small_corpus / "train-clean-100"
    files = list_audio_files(folder)
    assert files and all(f.suffix == ".wav" for f in files) and files == sorted(files)

    recordings = RecordingSet.from_recordings(Recording.from_file(f) for f in files[:5])
    recordings.to_file(tmp_path / "recordings.jsonl.gz")
    assert list_audio_files(tmp_path / "recordings.jsonl.gz") == files[:5]
    CutSet.from_manifests(recordings=recordings).to_file(tmp_path / "cuts.jsonl.gz")
    assert list_audio_files(tmp_path / "cuts.jsonl.gz") == files[:5]

    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(str(f) for f in files[:3]) + "\n\n")
    assert list_audio_files(listing) == files[:3]


def test_bad_manifest(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(DataError, match="cannot read manifest"):
        list_audio_files(bad)
