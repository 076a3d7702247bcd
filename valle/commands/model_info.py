"""`valle model-info CKPT`: print a checkpoint's model config and parameter counts (either checkpoint format)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "model-info"
HELP = "print the model config and AR / NAR / total parameter counts of a checkpoint (valle or lifeiteng/vall-e)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=Path, help="checkpoint file (.pt)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    from valle.models import load_checkpoint

    model = load_checkpoint(args.checkpoint)
    meta = model.meta
    counts = model.parameter_counts()
    info = {
        "checkpoint": str(args.checkpoint),
        "format": meta.source,
        "format_version": meta.format_version,
        "config": model.config.to_dict(),
        "parameters": counts,
        "symbols": len(meta.symbols) if meta.symbols is not None else None,
        "codec": meta.codec,
        "tokenizer": meta.tokenizer,
        "synthesis": meta.extra.get("synthesis") or None,  # the settings the checkpoint recommends
    }
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"checkpoint: {args.checkpoint} ({meta.source} format)")
    print("config:")
    for key, value in info["config"].items():
        print(f"  {key:20s} {value}")
    print("parameters:")
    for part in ("ar", "nar", "total"):
        print(f"  {part:20s} {counts[part]:,} ({counts[part] / 1e6:.2f} M)")
    if meta.symbols is not None:
        print(f"text symbols: {len(meta.symbols)}")
    if meta.codec is not None:
        print(f"codec: {json.dumps(meta.codec, default=str)}")
    if meta.tokenizer is not None:
        print(f"tokenizer: {json.dumps(meta.tokenizer, default=str)}")
    if info["synthesis"]:
        print(f"recommended synthesis settings: {json.dumps(info['synthesis'], sort_keys=True)}")
    return 0
