"""`valle demo`: the embedded default end to end on CPU (see valle/demo/pipeline.py for the stages)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "demo"
HELP = "run the embedded default end to end: synthetic corpus -> codec -> tokens -> small VALL-E -> speech -> report"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--work-dir", type=Path, default=Path("demo"), help="where every stage writes (reused on rerun)")
    p.add_argument("--speakers", type=int, default=40, help="speakers in the synthetic corpus")
    p.add_argument("--utterances-per-speaker", type=int, default=24, help="utterances per speaker")
    p.add_argument("--seed", type=int, default=0, help="seed for corpus, training and sampling")
    p.add_argument("--minutes", type=float, default=15.0, help="training time budget in minutes (0: no training)")
    p.add_argument("--fit-codec", action="store_true", help="fit the codec even if the shipped one matches")
    p.add_argument("--eval-items", type=int, default=16, help="test sentences per system (2 per unseen speaker)")
    p.add_argument("--num-threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--system", action="append", default=[], metavar="NAME=CHECKPOINT",
                   help="also evaluate this checkpoint under NAME (repeatable), e.g. --system mine=exp/model-best-valid.pt")


def run(args: argparse.Namespace) -> int:
    from valle.demo import DemoConfig, run_demo
    from valle.errors import InvalidInputError, require_file

    if args.minutes < 0:
        raise InvalidInputError(f"--minutes must be >= 0 (0: no training), got {args.minutes}")
    extra: dict[str, Path] = {}
    for spec in args.system:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path or not name.replace("_", "").replace("-", "").isalnum():
            raise InvalidInputError(f"--system takes NAME=CHECKPOINT (NAME: letters, digits, - or _), got {spec!r}")
        if name in ("ground_truth", "codec", "untrained", "demo", "pretrained") or name in extra:
            raise InvalidInputError(f"--system name {name!r} is taken; choose another")
        extra[name] = require_file(path, f"--system {name}: checkpoint", "check the path")
    report = run_demo(DemoConfig(work_dir=args.work_dir, speakers=args.speakers,
                                 utterances_per_speaker=args.utterances_per_speaker, seed=args.seed,
                                 minutes=args.minutes, fit_codec=args.fit_codec, eval_items=args.eval_items,
                                 num_threads=args.num_threads, extra_systems=extra))
    print(f"report: {report}")
    return 0
