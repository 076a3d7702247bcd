"""Weight averaging of finished checkpoints ("model soup"): the element-wise weighted mean of N models' weights.

Why: checkpoints that share an origin (epochs of one run, or fine-tunes started from one checkpoint) lie in one
basin of the loss, and their mean often generalises better than any of them; stage 7 of the shipped model
was stage 6 with its AR averaged with a GPU fine-tune of it (docs/pretrained).  This is the offline counterpart of
`--average-period` (valle.train.averaging, a running mean during one run), like icefall's `--avg` at decode time.

The checkpoints must describe the same network: the same model config (the weights would not line up
otherwise), the same text symbol table (a text id must mean the same phoneme in every input) and the same
codec (an audio code must mean the same sound).  `part` averages only the AR or only the NAR half; the other
half is the first checkpoint's, bit for bit, which is what merging an AR-only fine-tune needs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import fields

import torch

from valle.errors import InvalidInputError
from valle.models.checkpoint import load_checkpoint
from valle.models.valle import VALLE

PARTS = ("all", "ar", "nar")
# Config fields that change no weight (dropout) or have several spellings (model_name: compared as architecture).
NOT_COMPARED = ("model_name", "dropout", "attention_dropout")


def in_part(name: str, part: str) -> bool:
    """Whether state-dict entry `name` belongs to `part` ("all", "ar" or "nar"; NAR entries start with `nar_`)."""
    return part == "all" or (part == "nar") == name.startswith("nar_")


def normalized_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    """`weights` scaled to sum to 1 (equal weights when None); one finite weight per checkpoint, none negative.

    NaN slips past `w < 0` and infinity past `sum > 0`, and either would write a checkpoint of NaNs.
    """
    if weights is None:
        return [1.0 / n] * n
    if len(weights) != n:
        raise InvalidInputError(f"got {len(weights)} weights for {n} checkpoints; give one weight per checkpoint")
    if not all(0 <= w < math.inf for w in weights) or sum(weights) <= 0:
        raise InvalidInputError(f"weights must be finite numbers >= 0 with a positive sum, got {list(weights)}")
    total = sum(weights)
    return [w / total for w in weights]


def _check_same_network(first: VALLE, other: VALLE) -> None:
    """Raise naming what differs if `other` cannot be averaged with `first`."""
    where = f"{other.meta.path} and {first.meta.path}"
    a, b = first.config, other.config
    diff = [f.name for f in fields(a) if f.name not in NOT_COMPARED and getattr(a, f.name) != getattr(b, f.name)]
    diff += ["model_name"] * (a.architecture != b.architecture)
    if diff:
        raise InvalidInputError(f"{where} have different model configs ({', '.join(diff)}); only one network's "
                                "checkpoints can be averaged")  # fmt: skip
    if first.meta.symbols and other.meta.symbols and first.meta.symbols != other.meta.symbols:
        raise InvalidInputError(f"{where} have different text symbol tables; their text ids mean different "
                                "phonemes, so their weights cannot be averaged")  # fmt: skip
    if first.meta.codec and other.meta.codec and first.meta.codec != other.meta.codec:
        raise InvalidInputError(f"{where} were trained on different codecs ({first.meta.codec} vs "
                                f"{other.meta.codec}); their audio codes mean different sounds")  # fmt: skip


@torch.no_grad()
def average_checkpoints(
    paths: Sequence[str | os.PathLike[str]],
    weights: Sequence[float] | None = None,
    part: str = "all",
    progress: Callable[[Sequence[str | os.PathLike[str]]], Sequence[str | os.PathLike[str]]] = lambda x: x,
) -> VALLE:
    """The weighted mean of the checkpoints' weights, as a model carrying the first checkpoint's metadata.

    Args:
        paths: two or more checkpoints `load_checkpoint` reads (exports, training checkpoints, lifeiteng ones);
            float16 exports are averaged after loading, i.e. in float32.
        weights: one per checkpoint, scaled to sum to 1; None = equal.
        part: "all", or "ar" / "nar" to average only that half (the rest is the first checkpoint's).
        progress: wraps the iteration over the files (e.g. tqdm).

    Returns:
        the first checkpoint's model (its `meta` kept) holding the averaged weights.  Sums run in float64;
        integer buffers are the first checkpoint's.

    Raises:
        InvalidInputError: fewer than two paths, a bad part or weights, or checkpoints of different networks.
        MissingFileError, CheckpointError: from loading.
    """
    if len(paths) < 2:
        raise InvalidInputError(f"averaging needs at least two checkpoints, got {len(paths)}")
    if part not in PARTS:
        raise InvalidInputError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    scale = normalized_weights(weights, len(paths))
    first: VALLE | None = None
    sums: dict[str, torch.Tensor] = {}
    for path, w in zip(progress(paths), scale):
        model = load_checkpoint(path)
        if first is None:
            first = model
        else:
            _check_same_network(first, model)
        for name, value in model.state_dict().items():
            if value.is_floating_point() and in_part(name, part):
                term = value.double() * w
                sums[name] = sums[name].add_(term) if name in sums else term
    assert first is not None
    state = first.state_dict()  # tied names share one tensor; both receive the same mean
    first.load_state_dict({k: (sums[k].to(v.dtype) if k in sums else v) for k, v in state.items()})
    return first
