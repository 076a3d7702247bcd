"""`valle demo`: the embedded default job, end to end, on CPU.

Stages run in order and each one is skipped when its output already exists, so a second `make demo` reuses
what is done.  Today the pipeline stops after the stages that exist (the synthetic corpus); later stages
(codec fitting, tokenizing, training, synthesis, evaluation) are appended here as they land.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "demo"
HELP = "run the embedded default end to end: synthetic corpus -> codec -> tokens -> tiny VALL-E -> speech"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--work-dir", type=Path, default=Path("demo"), help="where every stage writes (reused on rerun)")
    p.add_argument("--speakers", type=int, default=40, help="speakers in the synthetic corpus")
    p.add_argument("--utterances-per-speaker", type=int, default=24, help="utterances per speaker")
    p.add_argument("--seed", type=int, default=0, help="seed for corpus, training and sampling")
    p.add_argument("--minutes", type=float, default=20.0, help="training time budget in minutes")


def run(args: argparse.Namespace) -> int:
    from valle.data.synth_corpus import SynthCorpusConfig, generate_corpus

    corpus = generate_corpus(
        SynthCorpusConfig(
            out=args.work_dir / "corpus",
            speakers=args.speakers,
            utterances_per_speaker=args.utterances_per_speaker,
            seed=args.seed,
        )
    )
    print(f"corpus: {corpus}")
    return 0
