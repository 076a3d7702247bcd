"""`valle split-manifests`: LJSpeech's train/dev/test split of the 'all' manifests (12,500 / 200 / 400)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "split-manifests"
HELP = "split {prefix}_{recordings,supervisions}_all manifests into train/dev/test (LJSpeech proportions)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest-dir", type=Path, default=Path("data/manifests"), help="lhotse manifests folder")
    p.add_argument("--prefix", default="ljspeech", help="manifest prefix")
    p.add_argument("--part", default="all", help="the part to split (not train, dev or test: those are its outputs)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing {prefix}_*_{train,dev,test} split")


def run(args: argparse.Namespace) -> int:
    from valle.data.recipes import split_manifests

    written = split_manifests(args.manifest_dir, prefix=args.prefix, part=args.part, overwrite=args.overwrite)
    for kind, counts in written.items():
        parts = ", ".join(f"{split} {n}" for split, n in counts.items())
        print(f"{args.manifest_dir / f'{args.prefix}_{kind}_{{train,dev,test}}.jsonl.gz'}: {parts}")
    return 0
