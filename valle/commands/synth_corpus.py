"""`valle synth-corpus`: write the synthetic multi-speaker corpus in LibriTTS layout."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "synth-corpus"
HELP = "generate a synthetic multi-speaker speech corpus (LibriTTS layout) offline with espeak-ng/flite"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="corpus folder to create")
    p.add_argument("--speakers", type=int, default=6, help="number of speakers (>= 2; ~20%% go to test-clean)")
    p.add_argument("--utterances-per-speaker", type=int, default=20, help="utterances per speaker (>= 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same corpus")
    p.add_argument("--num-jobs", type=int, default=2, help="synthesis processes in parallel")
    flite = p.add_mutually_exclusive_group()
    flite.add_argument("--flite", dest="use_flite", action="store_true", default=None, help="require flite voices")
    flite.add_argument("--no-flite", dest="use_flite", action="store_false", help="espeak-ng voices only")


def run(args: argparse.Namespace) -> int:
    from valle.data.synth_corpus import SynthCorpusConfig, generate_corpus

    cfg = SynthCorpusConfig(
        out=args.out,
        speakers=args.speakers,
        utterances_per_speaker=args.utterances_per_speaker,
        seed=args.seed,
        use_flite=args.use_flite,
        num_jobs=args.num_jobs,
    )
    generate_corpus(cfg)
    print(args.out)
    return 0
