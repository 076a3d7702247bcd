"""valle.infer: fast decoding (KV cache, batches), samplers, voices and the public synthesis API.

    from valle.infer import Synthesizer, SynthesisOptions
    synth = Synthesizer.from_checkpoint("exp/best.pt")
    wav, sr = synth.synthesize("Hello.", "prompt.wav", "Its transcript.", top_k=50, seed=0)

Names are imported on first use, so `import valle.infer` stays cheap (no torch until needed).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from valle.infer.api import available_models, load_model, synthesize
    from valle.infer.options import SynthesisOptions
    from valle.infer.sampling import make_sampler, repetition_aware_sample
    from valle.infer.synthesizer import SynthesisRequest, Synthesizer
    from valle.infer.text_split import split_text
    from valle.infer.voice import Voice, find_voice

_EXPORTS = {
    "Synthesizer": "valle.infer.synthesizer",
    "SynthesisRequest": "valle.infer.synthesizer",
    "SynthesisOptions": "valle.infer.options",
    "Voice": "valle.infer.voice",
    "find_voice": "valle.infer.voice",
    "split_text": "valle.infer.text_split",
    "make_sampler": "valle.infer.sampling",
    "repetition_aware_sample": "valle.infer.sampling",
    "load_model": "valle.infer.api",
    "available_models": "valle.infer.api",
    "synthesize": "valle.infer.api",
}

__all__ = [
    "SynthesisOptions",
    "SynthesisRequest",
    "Synthesizer",
    "Voice",
    "available_models",
    "find_voice",
    "load_model",
    "make_sampler",
    "repetition_aware_sample",
    "split_text",
    "synthesize",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'valle.infer' has no attribute {name!r}")
