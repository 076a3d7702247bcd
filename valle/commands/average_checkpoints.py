"""`valle average-checkpoints A.pt B.pt ... --out AVG.pt`: one inference checkpoint whose weights are their mean.

Typical uses: the last epochs of one run (`exp/epoch-{8,9,10}.pt`, icefall's `--avg` done once, offline), or a
fine-tune with the checkpoint it started from (`--part ar` when only the AR was trained).  The output is written
like `valle export-model`'s (the first checkpoint's symbols, tokenizer, codec and recommended synthesis settings;
`--dtype float16` halves it), and records what it was averaged from in its `extra`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from valle.commands.export_model import synthesis_settings, weights_dtype

NAME = "average-checkpoints"
HELP = "average the weights of checkpoints of one network (epochs of a run, a fine-tune and its start) into one"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoints", type=Path, nargs="+", help="two or more checkpoints of the same model config")
    p.add_argument("--out", "-o", type=Path, required=True, help="the inference checkpoint to write")
    p.add_argument("--weights", default=None, metavar="W1,W2,...",
                   help="one weight per checkpoint, scaled to sum to 1 (default: equal)")  # fmt: skip
    p.add_argument("--part", default="all", help="all | ar | nar: average only that half; the rest is the first's")
    p.add_argument("--dtype", default="float32", help="weights as stored: float32 | float16 | bfloat16")
    p.add_argument(
        "--synthesis",
        default=None,
        metavar="JSON",
        help="synthesis settings to recommend (as in valle export-model; default: the first checkpoint's)",
    )


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from valle.errors import InvalidInputError, require_file
    from valle.models import save_checkpoint
    from valle.models.average import average_checkpoints, normalized_weights

    dtype = weights_dtype(args.dtype)
    synthesis = synthesis_settings(args.synthesis)
    weights = None
    if args.weights is not None:
        try:
            weights = [float(w) for w in args.weights.split(",")]
        except ValueError:
            raise InvalidInputError(f"--weights must be comma-separated numbers such as 0.5,0.5, got {args.weights!r}")
    if args.out.resolve() in {p.resolve() for p in args.checkpoints}:
        raise InvalidInputError(f"--out {args.out} is one of the inputs; write the average to a new file")
    normalized_weights(weights, len(args.checkpoints))  # before reading gigabytes of weights
    for path in args.checkpoints:
        require_file(path, "checkpoint", "give checkpoint files to average")
    model = average_checkpoints(
        args.checkpoints,
        weights,
        args.part,
        progress=lambda xs: tqdm(xs, desc="averaging", unit="checkpoint", leave=False),
    )
    scale = normalized_weights(weights, len(args.checkpoints))  # valid: average_checkpoints checked them
    meta = model.meta
    extra = {k: v for k, v in meta.extra.items() if k not in ("exported_from", "export_history")}
    extra.update(averaged_from=[str(p) for p in args.checkpoints], average_weights=scale, average_part=args.part,
                 weights_dtype=args.dtype)  # fmt: skip
    if synthesis is not None:
        extra["synthesis"] = synthesis
    out = save_checkpoint(args.out, model, symbols=meta.symbols, tokenizer=meta.tokenizer, codec=meta.codec,
                          extra=extra, weights_dtype=dtype)  # fmt: skip
    shares = ", ".join(f"{w:.3g}" for w in scale)
    print(
        f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB, {args.dtype} weights): {args.part} weights averaged "
        f"over {len(args.checkpoints)} checkpoints with weights {shares}"
    )
    return 0
