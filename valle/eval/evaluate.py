"""Evaluate a list of (prompt, text, output[, ground truth]) items and summarise them.

Per item: WER of the output's transcript against the text, speaker similarity prompt-vs-output and (the
ceiling) prompt-vs-ground-truth, DNSMOS of the output, and how fast the transcript runs (words, or characters
for Mandarin, per second of output: a rate no recording reaches marks the recognizer inventing words).  The
summary adds the *different-speaker baseline*: the mean similarity between prompts of different speakers, which
a zero-shot system must clearly beat.

An output with no samples is a synthesis that said nothing, so it is scored, not refused: its transcript is
empty (WER counts in full), DNSMOS and speaker similarity, undefined on no audio, are None (left out of their
means), and `empty` marks it (counted in the summary).  An empty prompt or ground truth is bad input: an error.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from tqdm import tqdm

from valle.errors import DataError, require_file


@dataclass(frozen=True)
class EvalItem:
    output: Path  # synthesized audio
    text: str  # what it should say
    prompt: Path | None = None  # the voice prompt (enables speaker similarity)
    ground_truth: Path | None = None  # real recording of `text` by the prompt's speaker (ceilings)
    speaker: str | None = None  # prompt speaker id (enables the different-speaker baseline)


@dataclass
class EvalResult:
    output: str
    transcript: str
    wer: float
    dnsmos: float | None  # None for an empty output
    sim_prompt_output: float | None = None
    sim_prompt_truth: float | None = None
    units_per_second: float | None = None  # transcript words (Mandarin: characters) per second; None if silent
    too_fast: bool = False  # faster than any recording speaks (`valle.eval.metrics.too_fast`, in its language)
    empty: bool = False  # the output holds no samples (see the module docstring)


def _check_audio(path: Path, allow_empty: bool = False) -> None:
    """Refuse an item's audio that is missing, a folder, unreadable or (unless `allow_empty`: outputs) empty."""
    import soundfile as sf

    require_file(path, "audio file", "fix its path in the item list (relative paths start at the list's folder)")
    try:
        frames = sf.info(str(path)).frames
    except Exception as e:
        raise DataError(f"cannot read audio {path}: {e}") from e
    if not frames and not allow_empty:
        raise DataError(f"audio file {path} is empty; replace it with a recording of the speaker")


def _check_items(items: list[EvalItem]) -> None:
    """Check every item's audio before scoring any: a bad path found after an hour of scoring wastes the hour."""
    for item in items:
        _check_audio(item.output, allow_empty=True)
        for path in (item.prompt, item.ground_truth):
            if path is not None:
                _check_audio(path)


def _read(path: Path, allow_empty: bool = False) -> tuple[np.ndarray, int]:
    """Mono float32 samples and rate of an item's audio; `allow_empty` for outputs (scored, see module docstring)."""
    import soundfile as sf

    _check_audio(path, allow_empty)
    try:
        wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:
        raise DataError(f"cannot read audio {path}: {e}") from e
    return wav.mean(axis=1), sr


def evaluate(items: list[EvalItem], language: str = "en", progress: bool = True) -> list[EvalResult]:
    """Metrics for every item (models load once, on first use)."""
    from valle.eval.asr import transcribe
    from valle.eval.metrics import (
        dnsmos,
        speaker_embedding,
        speaker_similarity,
        spoken_units,
        too_fast,
        word_error_rate,
    )

    _check_items(items)
    results = []
    for item in tqdm(items, desc="evaluating", disable=not progress):
        wav, sr = _read(item.output, allow_empty=True)
        empty = not len(wav)
        hyp = "" if empty else transcribe(wav, sr, language=language[:2])
        res = EvalResult(str(item.output), hyp, word_error_rate(item.text, hyp, language),
                         None if empty else dnsmos(wav, sr), empty=empty)  # fmt: skip
        if not empty:
            res.units_per_second = spoken_units(hyp, language) / (len(wav) / sr)
            res.too_fast = too_fast(res.units_per_second, language)
        if item.prompt is not None:
            emb_p = speaker_embedding(*_read(item.prompt))
            if not empty:
                res.sim_prompt_output = speaker_similarity(emb_p, speaker_embedding(wav, sr))
            if item.ground_truth is not None:
                res.sim_prompt_truth = speaker_similarity(emb_p, speaker_embedding(*_read(item.ground_truth)))
        results.append(res)
    return results


def different_speaker_baseline(items: list[EvalItem]) -> float | None:
    """Mean similarity between one prompt of each speaker and every other speaker's prompt."""
    from valle.eval.metrics import speaker_embedding, speaker_similarity

    first: dict[str, Path] = {}
    for it in items:
        if it.speaker is not None and it.prompt is not None:
            first.setdefault(it.speaker, it.prompt)
    embs = [speaker_embedding(*_read(p)) for p in first.values()]
    sims = [speaker_similarity(a, b) for i, a in enumerate(embs) for b in embs[i + 1 :]]
    return statistics.fmean(sims) if sims else None


def summarize(results: list[EvalResult]) -> dict[str, float | int | None]:
    """Means over items (None where a metric was not computed), the median item's WER, and `too_fast`.

    Why the median too: WER has no upper bound, and Whisper can hear babble as a long string of words (76 words
    in a 5.8 s clip of a 13-word sentence, WER 5.8), so one item can move a mean of 16 by 0.3; the median says
    what a typical output scores.  The mean stays the headline number (it is what TTS papers report).
    `too_fast` counts the items whose transcript runs faster than any recording speaks
    (`valle.eval.metrics.too_fast`): how many WERs in the mean are that kind of outlier.  `empty` counts the
    outputs with no samples: their DNSMOS and similarity are None, so those means leave them out, and a reader
    must see how many.
    """

    def mean(values: list[float | None]) -> float | None:
        vals = [v for v in values if v is not None]
        return statistics.fmean(vals) if vals else None

    wers = [r.wer for r in results if r.wer is not None]
    return {
        "items": len(results),
        "wer": mean(wers),
        "wer_median": statistics.median(wers) if wers else None,
        "dnsmos": mean([r.dnsmos for r in results]),
        "sim_prompt_output": mean([r.sim_prompt_output for r in results]),
        "sim_prompt_truth": mean([r.sim_prompt_truth for r in results]),
        "too_fast": sum(r.too_fast for r in results) if results else None,
        "empty": sum(r.empty for r in results) if results else None,
    }


def read_item_list(path: Path) -> list[EvalItem]:
    """A TSV with a header naming columns among: output, text, prompt, ground_truth, speaker."""
    path = require_file(path, "item list", "give --list the path of the TSV file")
    with open(path, newline="", encoding="utf-8") as f:
        rows = _item_rows(path, f)
    base = path.parent

    def p(value: str | None) -> Path | None:
        return (base / value) if value else None

    return [
        EvalItem(output=base / r["output"], text=r["text"], prompt=p(r.get("prompt")),
                 ground_truth=p(r.get("ground_truth")), speaker=r.get("speaker") or None)
        for r in rows
    ]


def _item_rows(path: Path, f: TextIO) -> list[dict[str, str]]:
    """The rows of an item list as {column: value}, refusing what would be scored wrong.

    Why by hand rather than `csv.DictReader`: that fills a short line's missing columns with None (a crash deep
    in the WER code) and hides extra ones (a tab inside a transcript); here either names the list and line.
    """
    lines = csv.reader(f, delimiter="\t")
    header = next(lines, [])
    if not {"output", "text"} <= set(header):
        raise DataError(f"{path} needs a header with at least the columns 'output' and 'text' (tab-separated)")
    rows = []
    for values in lines:
        number = lines.line_num
        if not values:
            continue  # a blank line
        if len(values) != len(header):
            raise DataError(f"{path} line {number} has {len(values)} column(s) but its header has {len(header)}; "
                            "separate the columns with single tabs and keep tabs out of the text")  # fmt: skip
        row = dict(zip(header, values))
        if not row["output"]:
            raise DataError(f"{path} line {number} has no 'output' path; name the audio file to score")
        rows.append(row)
    if not rows:
        raise DataError(f"{path} has no items; add one tab-separated line per output below its header")
    return rows


def results_as_dicts(results: list[EvalResult]) -> list[dict]:
    return [asdict(r) for r in results]
