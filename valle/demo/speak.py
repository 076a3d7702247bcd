"""The demo's listening test: test sentences spoken in voices never seen in training, by every system.

Items: for each unseen (test-clean) speaker, its shortest utterances are voice prompts and other utterances of
the same speaker give the text to say, so a real recording of that text in that voice exists (the ground
truth).  Systems: `ground_truth` (the recording), `codec` (the recording through the codec: the ceiling any
model using this codec can reach), `untrained` (the demo's model shape with random weights: the floor),
`demo` (trained by this run), `pretrained` (the checkpoint that ships with valle, when it matches the codec).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from valle.utils import atomic_write, file_sha256

logger = logging.getLogger(__name__)

# Every system speaks with the same settings: colder sampling (top-k 10, T 0.7) with VALL-E 2's repetition-aware
# redraw, and EOS held back for half the length the prompt's speaking rate predicts.  Why: a prompt that is a
# whole utterance ends in silence and a small model's likeliest next code is then EOS (up to 10 of 16 shipped-model
# outputs were empty without it).  On the shipped model: no empty outputs and DNSMOS 2.77 (from 2.23-2.63); the
# WER gain is within the seed-to-seed noise (bench/sampling.py, docs/pretrained).
# The codec decodes the NAR's expected code vectors at temperature 0.5 rather than its argmax codes
# (valle.models.expected): on the shipped model, with the same AR draws, WER 0.655 -> 0.572 over 32 items x 4 seeds.
# Each text is drawn 4 times and the code reader keeps the draw whose codebook 1 it reads most plainly as the text
# (valle.infer.candidates): on the shipped model, WER 0.537 -> 0.45 over 32 items x 4 seeds (docs/pretrained).
# These are also the settings the shipped checkpoint recommends (`valle export-model --synthesis`).
SAMPLING = {"top_k": 10, "temperature": 0.7, "ras": True, "min_length_ratio": 0.5, "nar_temperature": 0.5,
            "candidates": 4, "seed": 0}


@dataclass(frozen=True)
class Item:
    id: str
    speaker: str
    prompt: Path
    prompt_text: str
    text: str
    ground_truth: Path


def pick_items(corpus: Path, count: int) -> list[Item]:
    """`count` items spread over the test-clean speakers (2 per speaker, prompts = shortest utterances)."""
    by_speaker: dict[str, list[tuple[float, Path, str]]] = {}
    for trans in sorted((corpus / "test-clean").rglob("*.trans.tsv")):
        for line in trans.read_text().splitlines():
            utt, text, _ = line.split("\t")
            wav = trans.parent / f"{utt}.wav"
            by_speaker.setdefault(utt.split("_")[0], []).append((sf.info(str(wav)).duration, wav, text))
    items: list[Item] = []
    per_speaker = max(1, count // max(1, len(by_speaker)))
    for spk, utts in sorted(by_speaker.items()):
        shortest = sorted(utts, key=lambda u: u[0])
        prompts, targets = shortest[:per_speaker], shortest[per_speaker:]
        for k, (prompt, target) in enumerate(zip(prompts, targets[::-1])):
            items.append(Item(f"{spk}_{k}", spk, prompt[1], prompt[2], target[2], target[1]))
    return items[:count]


def write_wav(path: Path, wav: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM via a temporary file: an interrupted run never leaves a cut-off wav to be reused."""
    with atomic_write(path) as tmp:
        sf.write(str(tmp), np.clip(wav, -1, 1), sample_rate, subtype="PCM_16")


def system_stamp(
    checkpoint: Path, seed: int, max_frames: int | None, sampling: dict | None = None
) -> dict[str, object]:
    """What a system's outputs depend on: the checkpoint's bytes, the seed and the sampling settings (default
    `SAMPLING`, as `speak_system`)."""
    return {"checkpoint_sha256": file_sha256(checkpoint), "seed": seed,
            "sampling": SAMPLING if sampling is None else sampling, "max_frames": max_frames}  # fmt: skip


def forget_stale_outputs(folder: Path, stamp: dict[str, object]) -> None:
    """Delete a system's earlier wavs when another checkpoint or other settings made them, then record `stamp`.

    Why: a rerun only fills in missing outputs, so a retrained or replaced checkpoint under the same system
    name (`--system NAME=PATH`, a new shipped model) would otherwise be reported with the old model's speech.
    """
    path = folder / "system.json"
    old = json.loads(path.read_text()) if path.is_file() else None
    if old == stamp:
        return
    stale = sorted(folder.glob("*.wav"))
    if stale:
        logger.info("%s: %d earlier output(s) came from another checkpoint or settings; re-synthesizing",
                    folder.name, len(stale))  # fmt: skip
    for wav in stale:
        wav.unlink()
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(stamp, sort_keys=True))


def speak_ground_truth(items: list[Item], out: Path, codec_path: Path) -> None:
    """`ground_truth` copies and `codec` resyntheses of every item's real recording."""
    from valle.codec import load_audio, load_codec

    codec = load_codec(str(codec_path))
    for it in tqdm(items, desc="codec resynthesis"):
        wav, sr = load_audio(it.ground_truth)
        if not (out / "ground_truth" / f"{it.id}.wav").is_file():
            write_wav(out / "ground_truth" / f"{it.id}.wav", wav.numpy(), sr)
        if not (out / "codec" / f"{it.id}.wav").is_file():
            audio = codec.decode(codec.encode(wav[None]))[0]
            write_wav(out / "codec" / f"{it.id}.wav", audio.numpy(), codec.sample_rate)


def load_system(name: str, checkpoint: Path, codec_path: Path, seed: int = 0) -> object | None:
    """A Synthesizer for a system, or None when it cannot be built (e.g. no shipped model)."""
    from valle.errors import ValleError
    from valle.infer import Synthesizer

    if not checkpoint.is_file():
        logger.warning("system %s: %s not found; skipped", name, checkpoint)
        return None
    try:
        synth = Synthesizer.from_checkpoint(checkpoint, codec=str(codec_path))
    except ValleError as e:
        logger.warning("system %s: %s; skipped", name, e)
        return None
    if name == "untrained":  # same shape, random weights
        synth.model = untrained_like(synth.model, seed)
    return synth


def untrained_like(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A model of the same config with fresh random weights (seeded): the floor every trained model must beat."""
    from valle.models import build_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build_model(model.config)  # type: ignore[arg-type]
    fresh.meta = model.meta  # type: ignore[assignment]
    return fresh.eval()


def speak_system(
    synth: object, items: list[Item], folder: Path, max_frames: int | None = None, sampling: dict | None = None
) -> None:
    """Synthesize every item with one system (skipping outputs already written), batched.

    The options are `SynthesisOptions()` with `sampling` (default `SAMPLING`), not the checkpoint's
    recommended ones, so that every system is scored with exactly the same settings.
    """
    from valle.errors import ValleError
    from valle.infer import SynthesisOptions

    todo = [it for it in items if not (folder / f"{it.id}.wav").is_file()]
    if not todo:
        return
    requests = [{"text": it.text, "prompt_audio": str(it.prompt), "prompt_text": it.prompt_text, "name": it.id}
                for it in todo]
    opts = SynthesisOptions().with_changes(**(SAMPLING if sampling is None else sampling), max_new_frames=max_frames)
    try:
        synth.require_reader(opts)  # type: ignore[attr-defined]
    except ValleError as e:  # e.g. `--fit-codec`: the shipped reader reads the shipped codec's codes only
        logger.warning("%s: %s; drawing once per text instead", folder.name, e)
        opts = opts.with_changes(candidates=1)
    for r in requests:
        r["options"] = opts
    for it, result in zip(todo, synth.synthesize_batch(requests, on_error="skip")):  # type: ignore[attr-defined]
        if result is not None:
            write_wav(folder / f"{it.id}.wav", *result)
