"""`valle probe`: where a model's intelligibility is lost, the AR's per-frame choices or the NAR (no sampling)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "probe"
HELP = "decode the NAR from the recording's codebook 1 and from the AR's teacher-forced picks; score both"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=Path, help="a valle checkpoint (training or exported)")
    p.add_argument("--corpus", type=Path, required=True,
                   help="corpus in LibriTTS layout whose test-clean speakers give the items (the demo's corpus/)")
    p.add_argument("--out", type=Path, default=Path("probe"), help="folder for the wavs and probe.json")
    p.add_argument("--items", type=int, default=16, help="how many items (2 per test-clean speaker, as the demo)")
    p.add_argument("--codec", default=None, help="codec file (default: the one the checkpoint names or sits beside)")
    p.add_argument("--mode", action="append", choices=["truth", "one-step"], default=None,
                   help="repeatable; default both")
    p.add_argument("--nar-temperature", type=float, default=0.0,
                   help="0: the NAR's argmax codes; > 0: the codec decodes its expected code vectors (as valle infer)")
    p.add_argument("--no-score", action="store_true", help="skip valle eval (WER/SIM/DNSMOS): frame accuracy only")
    p.add_argument("--num-threads", type=int, default=1, help="torch CPU threads")


def run(args: argparse.Namespace) -> int:
    from valle.demo.probe import MODES, run_probe
    from valle.errors import InvalidInputError
    from valle.utils import set_num_threads

    if args.items < 1:
        raise InvalidInputError(f"--items must be >= 1, got {args.items}")
    set_num_threads(args.num_threads)
    modes = tuple(dict.fromkeys(args.mode)) if args.mode else MODES
    summary = run_probe(args.checkpoint, args.corpus, args.out, count=args.items, modes=modes, codec=args.codec,
                        score=not args.no_score, nar_temperature=args.nar_temperature)  # fmt: skip
    columns = ["frame_accuracy", "ar_loss"] + ([] if args.no_score else ["wer", "sim_prompt_output", "dnsmos"])
    print("| codebook 1 from | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for mode, row in summary.items():
        cells = [f"{row[c]:.3f}" if isinstance(row.get(c), float) else str(row.get(c)) for c in columns]
        print(f"| {mode} | " + " | ".join(cells) + " |")
    print(f"wavs and probe.json: {args.out}")
    return 0
