"""Custom data: a folder of audio files with transcripts beside them -> lhotse manifests (prefix "custom").

Layout accepted (any depth):  <root>/<speaker>/<name>.wav  with  <name>.txt (or .lab) holding the transcript.
Audio may be wav/flac/ogg at any sample rate; the speaker is the name of the audio's parent folder (files
directly in <root> belong to speaker "default").  Items without a transcript, with an empty one or with
unreadable audio are skipped and counted.  Utterances are split into train/dev/test by a seeded shuffle: dev and
test get their fractions (at least one utterance each) and train the rest, which must not be empty.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

from valle.errors import DataError, InvalidInputError, MissingFileError
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


def _check_fractions(dev_fraction: float, test_fraction: float) -> None:
    """Refuse shares that cannot leave utterances for train (checked before the folder is scanned)."""
    for flag, value in (("--dev-fraction", dev_fraction), ("--test-fraction", test_fraction)):
        if not 0.0 <= value < 1.0:  # NaN fails too
            raise InvalidInputError(f"{flag} must be >= 0 and < 1, got {value:g}")
    if dev_fraction + test_fraction >= 1.0:
        raise InvalidInputError(
            f"--dev-fraction {dev_fraction:g} and --test-fraction {test_fraction:g} add up to "
            f"{dev_fraction + test_fraction:g}; keep their sum below 1 so that train gets utterances"
        )


def _split_sizes(n: int, dev_fraction: float, test_fraction: float) -> tuple[int, int]:
    """(dev, test) sizes of `n` utterances: at least one each, and at least one left for train."""
    n_dev = max(1, round(dev_fraction * n))
    n_test = max(1, round(test_fraction * n))
    if n_dev + n_test >= n:
        raise InvalidInputError(
            f"--dev-fraction {dev_fraction:g} and --test-fraction {test_fraction:g} leave no utterances for train "
            f"(dev {n_dev}, test {n_test} of {n}); lower them or add recordings"
        )
    return n_dev, n_test


def _too_few_message(found: int, src: Path, skipped: dict[str, int]) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
    return (
        f"found {found} usable audio+transcript pairs in {src}; need at least 3: put <speaker>/<name>.wav files "
        f"with a <name>.txt transcript beside each" + (f" (skipped: {reasons})" if reasons else "")
    )


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
    _check_fractions(dev_fraction, test_fraction)
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
        raise DataError(_too_few_message(len(items), src, summary.skipped))
    n_dev, n_test = _split_sizes(len(items), dev_fraction, test_fraction)
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
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
