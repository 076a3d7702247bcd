"""`valle export-model CKPT OUT`: a lean inference checkpoint from any checkpoint valle can load.

Training checkpoints carry the optimizer, scheduler, sampler and RNG states (three times the weights);
what synthesis needs is the weights, the model config, the symbol table, the text front-end settings and
the codec identity.  `--dtype float16` also halves the weights, which is how the shipped checkpoint stays
small: they are cast back to float32 when loaded, so inference runs exactly as with the float32 file
apart from the rounding of each weight (relative error <= 2^-11).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

NAME = "export-model"
HELP = "write a lean inference checkpoint (weights + symbols + codec identity; optional float16) from any checkpoint"

DTYPES = ("float32", "float16", "bfloat16")
logger = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=Path, help="valle model-*.pt, epoch-N.pt / checkpoint-N.pt, or a lifeiteng one")
    p.add_argument("out", type=Path, help="the inference checkpoint to write")
    p.add_argument("--dtype", default="float32", help="weights as stored: float32 | float16 | bfloat16")
    p.add_argument("--synthesis", default=None, metavar="JSON",
                   help='synthesis settings to recommend, e.g. \'{"top_k": 10, "temperature": 0.7}\' (fields of '
                        "SynthesisOptions; valle infer, the API and the server start from them; '{}' clears them; "
                        "default: keep the source checkpoint's)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from valle.models import load_checkpoint, save_checkpoint

    dtype = weights_dtype(args.dtype)
    synthesis = synthesis_settings(args.synthesis)  # checked before a model is loaded
    model = load_checkpoint(args.checkpoint)
    meta = model.meta
    if meta.symbols is None:
        logger.warning("%s has no symbol table: synthesis with the export will need --text-tokens", args.checkpoint)
    extra = {**meta.extra, "exported_from": str(args.checkpoint), "weights_dtype": args.dtype}
    if "exported_from" in meta.extra:  # re-exporting an export: keep where the weights first came from
        extra["export_history"] = [*meta.extra.get("export_history", []), meta.extra["exported_from"]]
    if synthesis is not None:
        extra["synthesis"] = synthesis
    if extra.get("synthesis"):
        logger.info("recommended synthesis settings: %s", json.dumps(extra["synthesis"], sort_keys=True))
    out = save_checkpoint(args.out, model, symbols=meta.symbols, tokenizer=meta.tokenizer, codec=meta.codec,
                          extra=extra, weights_dtype=dtype)  # fmt: skip
    size = out.stat().st_size / 2**20
    print(f"wrote {out} ({size:.1f} MiB, {args.dtype} weights, {meta.source} checkpoint {args.checkpoint})")
    return 0


def weights_dtype(name: str) -> torch.dtype:
    """The torch dtype `--dtype NAME` asks the weights to be stored in (shared with `valle average-checkpoints`)."""
    import torch

    from valle.errors import InvalidInputError

    if name not in DTYPES:
        raise InvalidInputError(f"--dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return getattr(torch, name)


def synthesis_settings(text: str | None) -> dict | None:
    """The `--synthesis` JSON object, checked against `SynthesisOptions` (None when the flag is absent).

    Shared with `valle average-checkpoints`, whose `--synthesis` means the same.
    """
    from valle.errors import InvalidInputError
    from valle.infer import SynthesisOptions

    if text is None:
        return None
    try:
        settings = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInputError(f"--synthesis must be a JSON object such as '{{\"top_k\": 10}}': {e}") from None
    if not isinstance(settings, dict):
        raise InvalidInputError(f"--synthesis must be a JSON object such as '{{\"top_k\": 10}}', got {text!r}")
    SynthesisOptions().with_changes(**settings)  # unknown names, bad values and wrong types: one line naming them
    return settings
