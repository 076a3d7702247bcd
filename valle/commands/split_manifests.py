"""`valle split-manifests`: LJSpeech's train/dev/test split of the 'all' manifests (12,500 / 200 / 400)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "split-manifests"
HELP = "split {prefix}_{recordings,supervisions}_all manifests into train/dev/test (LJSpeech proportions)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest-dir", type=Path, default=Path("data/manifests"), help="lhotse manifests folder")
    p.add_argument("--prefix", default="ljspeech", help="manifest prefix")
    p.add_argument("--part", default="all", help="the part to split")


def run(args: argparse.Namespace) -> int:
    from valle.data.recipes import split_manifests

    split_manifests(args.manifest_dir, prefix=args.prefix, part=args.part)
    return 0
