"""Evaluate a list of (prompt, text, output[, ground truth]) items and summarise them.

Per item: WER of the output's transcript against the text, speaker similarity prompt-vs-output and (the
ceiling) prompt-vs-ground-truth, DNSMOS of the output, and how fast the transcript runs (words, or characters
for Mandarin, per second of output: a rate no recording reaches marks the recognizer inventing words).  The
summary adds the *different-speaker baseline*: the mean similarity between prompts of different speakers, which
a zero-shot system must clearly beat.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from valle.errors import DataError, MissingFileError


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
    dnsmos: float
    sim_prompt_output: float | None = None
    sim_prompt_truth: float | None = None
    units_per_second: float | None = None  # transcript words (Mandarin: characters) per second; None if silent
    too_fast: bool = False  # faster than any recording speaks (`valle.eval.metrics.too_fast`, in its language)


def _read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if not Path(path).is_file():
        raise MissingFileError(f"audio file {path} not found")
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

    results = []
    for item in tqdm(items, desc="evaluating", disable=not progress):
        wav, sr = _read(item.output)
        hyp = transcribe(wav, sr, language=language[:2])
        res = EvalResult(str(item.output), hyp, word_error_rate(item.text, hyp, language), dnsmos(wav, sr))
        if len(wav):
            res.units_per_second = spoken_units(hyp, language) / (len(wav) / sr)
            res.too_fast = too_fast(res.units_per_second, language)
        if item.prompt is not None:
            emb_p = speaker_embedding(*_read(item.prompt))
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
    (`valle.eval.metrics.too_fast`): how many WERs in the mean are that kind of outlier.
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
    }


def read_item_list(path: Path) -> list[EvalItem]:
    """A TSV with a header naming columns among: output, text, prompt, ground_truth, speaker."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"item list {path} not found")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or not {"output", "text"} <= set(rows[0]):
        raise DataError(f"{path} needs a header with at least the columns 'output' and 'text' (tab-separated)")
    base = path.parent

    def p(value: str | None) -> Path | None:
        return (base / value) if value else None

    return [
        EvalItem(output=base / r["output"], text=r["text"], prompt=p(r.get("prompt")),
                 ground_truth=p(r.get("ground_truth")), speaker=r.get("speaker") or None)
        for r in rows
    ]


def results_as_dicts(results: list[EvalResult]) -> list[dict]:
    return [asdict(r) for r in results]
