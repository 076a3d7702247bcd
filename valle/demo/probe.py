"""Which half of a model makes its speech unintelligible: decode the NAR from codebook 1 chosen three ways.

Why: a full synthesis mixes three error sources, the AR's choice at each frame, the way wrong choices compound
when the AR runs free, and the NAR.  Measured on one set of items with the same `valle eval`:

* `truth`: codebook 1 of the real recording, the NAR predicts codebooks 2-8.  What a perfect AR would give
  with this NAR (the NAR's own ceiling).
* `one-step`: at every frame the AR's most likely code given the recording's *true* history (teacher
  forcing), then the NAR.  No sampling and no compounding: the gap to `truth` is what the AR's per-frame
  choices cost.  Also reports the AR's frame accuracy and its teacher-forced loss on these frames.
* free running is the demo's own synthesis (`valle demo`); its gap to `one-step` is what compounding costs.

Dimension legend: T target frames, P prompt frames, Q codebooks, V AR vocabulary (codes + EOS).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from valle.errors import InvalidInputError, MissingFileError, require_file, require_finite_nonnegative
from valle.models.expected import ExpectedFrames
from valle.models.generate import decode_nar
from valle.utils import atomic_write

if TYPE_CHECKING:
    from valle.infer import Synthesizer, Voice

Mode = Literal["truth", "one-step"]
MODES: tuple[Mode, ...] = ("truth", "one-step")


@dataclass(frozen=True)
class Probe:
    """One item's probe: the codes to vocode and how well the AR predicted the recording's codebook 1."""

    codes: Tensor  # [T, Q] codebook 1 as chosen by the mode, codebooks 2.. from the NAR (or expected frames [T, D])
    frame_accuracy: float  # share of the T frames where the AR's argmax is the recording's code
    loss: float  # the AR's teacher-forced cross-entropy on the T frames (nats per frame)


def text_ids(synth: Synthesizer, voice: Voice, text: str) -> tuple[Tensor, Tensor]:
    """Ids [1, S] and length [1] of "prompt transcript + text", tokenized together as at inference."""
    ids, lens = synth.collater()([synth.tokenizer.tokenize([f"{voice.text} {text}".strip()])[0]])
    return ids.to(synth.device), lens.to(synth.device)


def ar_target_logits(synth: Synthesizer, ids: Tensor, lens: Tensor, prompt: Tensor, target: Tensor) -> Tensor:
    """The AR's teacher-forced logits [T, V] for each frame of `target` ([T, Q]), spoken after `prompt` ([P, Q]).

    The sequence is laid out as at inference: `ids`/`lens` ([1, S], [1]) are "prompt transcript + text" tokenized
    together (`text_ids`), the audio is the prompt's codes followed by the target's.  Row j predicts target frame
    j from everything before.
    """
    model, c = synth.model, synth.model.config
    q = c.num_quantizers
    audio = torch.cat([prompt[:, :q], target[:, :q].to(synth.device)])[None]  # [1, P + T, Q]
    with torch.inference_mode():
        logits = model.ar_logits(ids, lens, audio, torch.tensor([audio.shape[1]], device=synth.device))[0]
    # Input position i predicts audio frame i + 1 (or frame i after a BOS): frame P + j is predicted at P - 1 + j.
    first = prompt.shape[0] - 1 + int(c.prepend_bos)
    return logits[first : first + target.shape[0]].float()  # [T, V]


def probe_item(
    synth: Synthesizer,
    voice: Voice,
    text: str,
    target: Tensor,
    modes: Sequence[Mode] = MODES,
    expected: ExpectedFrames | None = None,
) -> dict[Mode, Probe]:
    """Codebook 1 by each mode for the recording `target` ([T, Q] codes of `text` in the voice's speaker), then the NAR.

    The text is tokenized and the AR's teacher-forced pass run once, whatever the number of modes.

    Raises:
        InvalidInputError: an unknown mode, or a target without frames.
    """
    for mode in modes:
        if mode not in MODES:
            raise InvalidInputError(f"unknown probe mode {mode!r}; choose one of {', '.join(MODES)}")
    if target.ndim != 2 or target.shape[0] == 0:
        raise InvalidInputError(
            f"the target must be codes [frames, codebooks] with frames > 0, got {tuple(target.shape)}"
        )
    model, c = synth.model, synth.model.config
    ids, lens = text_ids(synth, voice, text)
    prompt = voice.codes[:, : c.num_quantizers].to(synth.device)  # [P, Q]
    truth = target[:, 0].to(synth.device)  # [T]
    logits = ar_target_logits(synth, ids, lens, prompt, target)  # [T, V]
    guess = logits[:, : c.num_audio_tokens].argmax(-1)  # [T] (EOS excluded: every frame here is a real frame)
    accuracy, loss = float((guess == truth).float().mean()), float(F.cross_entropy(logits, truth))
    enroll = synth.collater()([voice.tokens])[1].to(synth.device)
    probes: dict[Mode, Probe] = {}
    for mode in modes:
        first = truth if mode == "truth" else guess
        with torch.inference_mode():
            codes = decode_nar(model, ids, lens, prompt[None], first[None], enroll, expected=expected)[0]
        probes[mode] = Probe(codes=codes.cpu(), frame_accuracy=accuracy, loss=loss)
    return probes


def run_probe(
    checkpoint: Path,
    corpus: Path,
    out: Path,
    *,
    count: int = 16,
    modes: Sequence[Mode] = MODES,
    codec: str | None = None,
    score: bool = True,
    nar_temperature: float = 0.0,
) -> dict[str, dict[str, float]]:
    """Probe `count` of the demo's items (unseen test-clean voices of `corpus`) in every mode.

    Writes `out/<mode>/<item>.wav` and `out/probe.json`; returns, per mode, the mean frame accuracy and loss
    and, with `score`, the `valle eval` summary of its wavs (WER, SIM, DNSMOS).

    Raises:
        MissingFileError: no checkpoint, or no test-clean speakers in `corpus`.
    """
    from valle.codec import load_audio
    from valle.demo.speak import pick_items, write_wav
    from valle.infer import Synthesizer

    require_file(checkpoint, "checkpoint", "check the path")
    if not (corpus / "test-clean").is_dir():
        raise MissingFileError(f"{corpus} has no test-clean/ folder; give a corpus in LibriTTS layout "
                               "(e.g. the demo's work folder's corpus/)")  # fmt: skip
    items = pick_items(corpus, count)
    if not items:
        raise MissingFileError(f"{corpus / 'test-clean'} holds no utterances with transcripts")
    require_finite_nonnegative("--nar-temperature", nar_temperature)
    out.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails now, not after the items are decoded
    synth = Synthesizer.from_checkpoint(checkpoint, codec=codec)
    expected = synth.expected_frames(nar_temperature)
    stats: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for it in tqdm(items, desc="probe"):
        voice = synth.make_voice(str(it.prompt), it.prompt_text, name=it.id)
        wav, _ = load_audio(it.ground_truth)
        target = synth.codec.encode([wav.to(synth.device)])[0].T.cpu()  # [T, Q]
        for mode, probe in probe_item(synth, voice, it.text, target, modes, expected).items():
            stats[mode].append((probe.frame_accuracy, probe.loss))
            write_wav(out / mode / f"{it.id}.wav", synth.vocode(probe.codes), synth.sample_rate)
    summary: dict[str, dict[str, float]] = {}
    for mode in modes:
        acc, loss = zip(*stats[mode])
        summary[mode] = {"items": len(items), "frame_accuracy": sum(acc) / len(acc), "ar_loss": sum(loss) / len(loss)}
        if score:
            from valle.eval.evaluate import EvalItem, evaluate, summarize

            evals = [EvalItem(output=out / mode / f"{it.id}.wav", text=it.text, prompt=it.prompt, speaker=it.speaker)
                     for it in items]  # fmt: skip
            summary[mode].update(summarize(evaluate(evals, progress=False)))
    with atomic_write(out / "probe.json") as tmp:
        record = {"checkpoint": str(checkpoint), "nar_temperature": nar_temperature, "summary": summary}
        tmp.write_text(json.dumps(record, indent=1))
    return summary
