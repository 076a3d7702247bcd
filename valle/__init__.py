"""valle: VALL-E zero-shot text-to-speech (arXiv 2301.02111).

Text -> phonemes (valle.text), speech -> codec tokens (valle.codec), an autoregressive transformer for
codebook 1 and a non-autoregressive one for codebooks 2-8 (valle.models), training (valle.train),
fast decoding (valle.infer).  Sub-packages are imported lazily so `import valle` stays cheap.

    import valle
    synth = valle.load_model("exp/best.pt")          # or a name from valle.available_models()
    wav, sr = synth.synthesize("Hello.", "prompt.wav", "Its transcript.")
    wav, sr = valle.synthesize("Hello.", "prompt.wav", "Its transcript.", model="exp/best.pt")
"""

from typing import Any

__version__ = "0.1.0"

_API = ("available_models", "load_model", "synthesize")

__all__ = ["__version__", "available_models", "load_model", "synthesize"]


def __getattr__(name: str) -> Any:
    if name in _API:
        from valle.infer import api

        return getattr(api, name)
    raise AttributeError(f"module 'valle' has no attribute {name!r}")
