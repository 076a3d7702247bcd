"""Custom data: a folder of audio files with transcripts beside them -> lhotse manifests (prefix "custom").

Layout accepted (any depth):  <root>/<speaker>/<name>.wav  with  <name>.txt (or .lab) holding the transcript.
Audio may be wav/flac/ogg at any sample rate; the speaker is the name of the audio's parent folder (files
directly in <root> belong to speaker "default").  Items without a transcript, with an empty one or with
unreadable audio are skipped and counted.  Utterances are split into train/dev/test by a seeded shuffle.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

from valle.errors import DataError, MissingFileError
from valle.utils import atomic_write

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
TEXT_SUFFIXES = (".txt", ".lab")


@dataclass
class FolderSummary:
    kept: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _transcript(audio: Path) -> str | None:
    for suffix in TEXT_SUFFIXES:
        if (p := audio.with_suffix(suffix)).is_file():
            return " ".join(p.read_text(encoding="utf-8", errors="replace").split())
    return None


def prepare_folder(
    src: Path,
    out: Path,
    *,
    language: str = "English",
    dev_fraction: float = 0.05,
    test_fraction: float = 0.05,
    seed: int = 0,
) -> FolderSummary:
    """Write `custom_{recordings,supervisions}_{train,dev,test}.jsonl.gz` into `out` for the folder `src`."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise MissingFileError(f"{src} is not a folder; point --src at a folder of audio files with .txt transcripts")
    summary = FolderSummary()
    items: list[tuple[Recording, SupervisionSegment]] = []
    for audio in sorted(p for p in src.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        text = _transcript(audio)
        if text is None:
            summary.skip("no_transcript")
            continue
        if not text:
            summary.skip("empty_text")
            continue
        rel = audio.relative_to(src).with_suffix("")
        rec_id = "_".join(rel.parts)
        try:
            rec = Recording.from_file(audio, recording_id=rec_id)
        except Exception as e:  # noqa: BLE001 -- corrupt or unsupported file: counted, never fatal
            logger.warning("skipping %s: cannot read audio (%s)", audio, e)
            summary.skip("unreadable_audio")
            continue
        speaker = audio.parent.name if audio.parent != src else "default"
        sup = SupervisionSegment(
            id=rec_id, recording_id=rec_id, start=0.0, duration=rec.duration, channel=0,
            text=text, speaker=speaker, language=language,
        )
        items.append((rec, sup))
    if len(items) < 3:
        raise DataError(f"found {len(items)} usable audio+transcript pairs in {src}; need at least 3 ({summary.skipped})")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_dev = max(1, round(dev_fraction * len(items)))
    n_test = max(1, round(test_fraction * len(items)))
    splits = {"dev": order[:n_dev], "test": order[n_dev : n_dev + n_test], "train": order[n_dev + n_test :]}
    for split, idx in splits.items():
        idx = sorted(idx)
        recs = RecordingSet.from_recordings(items[i][0] for i in idx)
        sups = SupervisionSet.from_segments(items[i][1] for i in idx)
        for kind, manifest in (("recordings", recs), ("supervisions", sups)):
            with atomic_write(out / f"custom_{kind}_{split}.jsonl.gz") as tmp:
                manifest.to_file(tmp)
        summary.kept[split] = len(idx)
    return summary
