"""The top-level API: `valle.load_model`, `valle.available_models`, `valle.synthesize` (whisper-style).

Names a model can go by:

* a checkpoint path (valle or lifeiteng/vall-e format);
* the stem of a checkpoint saved in the model folder (`$VALLE_MODEL_DIR`, else `~/.cache/valle/models`),
  e.g. `valle.load_model("libritts-small")` for `~/.cache/valle/models/libritts-small.pt`;
* "synth-small": the checkpoint that ships inside the package (`valle/assets/valle-synth-small.pt`, trained on
  synthetic speech; docs/pretrained), so that an installed valle speaks without a path into site-packages;
* "debug": a tiny random-weight model (2 layers x 32) with a character front-end and a seeded random
  EnCodec, built in about a second without any file: for smoke tests of code that calls the API.  It
  speaks noise.

No weights are downloaded: VALL-E has no official release, and this project runs offline.
"""

from __future__ import annotations

import os
import string
from pathlib import Path
from typing import Any

import torch

from valle.errors import InvalidInputError
from valle.infer.audio_input import AudioSource
from valle.infer.synthesizer import Synthesizer
from valle.infer.voice import Voice
from valle.utils import cache_path, resolve_device

ENV_MODEL_DIR = "VALLE_MODEL_DIR"
DEBUG = "debug"
SHIPPED = "synth-small"
SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "assets" / "valle-synth-small.pt"
# Symbols of the debug model's character front-end: letters, digits, punctuation and the word separator.
DEBUG_SYMBOLS = sorted(set(string.ascii_letters + string.digits + string.punctuation) | {"_"})


def model_dir() -> Path:
    """`$VALLE_MODEL_DIR`, else `~/.cache/valle/models`: where named checkpoints are looked up."""
    return cache_path("models", ENV_MODEL_DIR)


def available_models() -> list[str]:
    """Names `load_model` accepts besides paths: "synth-small", "debug" and the checkpoints in `model_dir()`."""
    d = model_dir()
    # A model folder may also hold the codec (`codec.pt`, found there by checkpoint look-ups) and voices.
    saved = sorted(p.stem for p in d.glob("*.pt") if p.name != "codec.pt" and not p.name.endswith(".voice.pt"))
    builtin = [SHIPPED] * SHIPPED_MODEL.is_file() + [DEBUG]
    return builtin + [n for n in saved if n not in builtin]


def load_model(
    name_or_path: str | os.PathLike[str], device: str | torch.device | None = None, **kwargs: Any
) -> Synthesizer:
    """A `Synthesizer` for a checkpoint path or a model name (see `available_models()`).

    Args:
        name_or_path: checkpoint file, or a name.
        device: None = CUDA when available, else CPU.
        **kwargs: passed to `Synthesizer.from_checkpoint` (codec, text_tokens, tokenizer, options, voice_dir,
            reader).

    Raises:
        InvalidInputError: an unknown name (the message lists the available ones).
    """
    dev = resolve_device(device)
    path = Path(name_or_path)
    if path.is_file():
        return Synthesizer.from_checkpoint(path, dev, **kwargs)
    name = str(name_or_path)
    if name == SHIPPED and SHIPPED_MODEL.is_file():
        return Synthesizer.from_checkpoint(SHIPPED_MODEL, dev, **kwargs)
    if name == DEBUG:
        return debug_synthesizer(dev, options=kwargs.get("options"), voice_dir=kwargs.get("voice_dir"),
                                 reader=kwargs.get("reader"))  # fmt: skip
    saved = model_dir() / f"{name}.pt"
    if saved.is_file():
        return Synthesizer.from_checkpoint(saved, dev, **kwargs)
    raise InvalidInputError(
        f"model {name!r} is neither a checkpoint file nor a known name; available: {', '.join(available_models())} "
        f"(put checkpoints in {model_dir()} to load them by name)"
    )


def debug_synthesizer(device: str | torch.device = "cpu", seed: int = 0, **kwargs: Any) -> Synthesizer:
    """The "debug" model: tiny random VALL-E + character tokenizer + seeded random EnCodec (no files)."""
    from valle.codec import random_encodec
    from valle.models import build_model, debug_config
    from valle.text import SymbolTable, TextTokenizer

    symbols = SymbolTable.from_symbols(DEBUG_SYMBOLS).symbols
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(debug_config(num_text_tokens=len(symbols) + 3)).to(device).eval()
    tokenizer = TextTokenizer(backend="char", normalize=False)
    return Synthesizer(model, random_encodec(seed, device=device), tokenizer, symbols, **kwargs)


_LOADED: dict[tuple[str, str], Synthesizer] = {}


def synthesize(
    text: str,
    prompt_audio: AudioSource | list[AudioSource] | None = None,
    prompt_text: str | list[str] | None = None,
    *,
    model: str | os.PathLike[str] | Synthesizer,
    voice: Voice | str | None = None,
    device: str | torch.device | None = None,
    **sampling: Any,
) -> tuple[Any, int]:
    """One-call synthesis: `wav, sr = valle.synthesize("Hi.", "me.wav", "My transcript.", model="ckpt.pt")`.

    A model given by name or path is loaded once and kept for later calls in this process.

    Args:
        text, prompt_audio, prompt_text, voice, **sampling: as in `Synthesizer.synthesize`.
        model: a `Synthesizer`, a checkpoint path or a model name.
        device: for loading by name/path (None = CUDA if available).

    Returns:
        (waveform float32 numpy [T], sample_rate).
    """
    if not isinstance(model, Synthesizer):
        key = (str(model), str(device))
        if key not in _LOADED:
            _LOADED[key] = load_model(model, device)
        model = _LOADED[key]
    return model.synthesize(text, prompt_audio, prompt_text, voice=voice, **sampling)
