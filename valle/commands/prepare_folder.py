"""`valle prepare-folder`: your own data (audio + .txt transcripts per speaker folder) -> lhotse manifests."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "prepare-folder"
HELP = "turn a folder of <speaker>/<name>.wav + <name>.txt pairs into lhotse manifests (prefix 'custom')"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--src", type=Path, required=True, help="folder of audio files with transcripts beside them")
    p.add_argument("--out", type=Path, default=Path("data/manifests"), help="manifest folder to write")
    p.add_argument("--language", default="English", help="language recorded in the supervisions")
    p.add_argument("--dev-fraction", type=float, default=0.05, help="share of utterances for dev, in [0, 1) (min. 1)")
    p.add_argument("--test-fraction", type=float, default=0.05,
                   help="share of utterances for test, in [0, 1) (min. 1); train gets the rest (at least one)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split")


def run(args: argparse.Namespace) -> int:
    from valle.data.folder import prepare_folder

    s = prepare_folder(args.src, args.out, language=args.language, dev_fraction=args.dev_fraction,
                       test_fraction=args.test_fraction, seed=args.seed)
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(s.skipped.items())) or "none"
    print(f"train {s.kept['train']}, dev {s.kept['dev']}, test {s.kept['test']}; skipped: {skipped}")
    return 0
