"""`valle combine-cuts`: make cuts_{train,dev,test}.jsonl.gz from tokenized parts as the recipes do, print stats."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "combine-cuts"
HELP = "combine tokenized parts into cuts_{train,dev,test}.jsonl.gz (recipe splits) and print statistics"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from valle.data.recipes import RECIPES

    p.add_argument("--recipe", required=True, choices=RECIPES, help="which corpus' split rules to apply")
    p.add_argument("--dir", type=Path, default=Path("data/tokenized"), help="folder of valle tokenize's output")


def run(args: argparse.Namespace) -> int:
    from valle.data.recipes import STATS_HEADER, combine_splits, cut_stats

    paths = combine_splits(args.recipe, args.dir)
    print(STATS_HEADER)
    for path in paths.values():
        print(cut_stats(path).row())
    return 0
