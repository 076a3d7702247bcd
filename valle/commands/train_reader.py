"""`valle train-reader --manifest-dir DIR --out reader.pt`: train the code reader that ranks AR candidates.

The reader (valle.models.code_reader) is a small CTC recognizer from codebook-1 codes to the text's phonemes.
`valle infer --candidates N` draws N AR candidates per text and keeps the one the reader finds easiest to read
as its text.  It trains on the manifests `valle train` uses, in minutes on a CPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "train-reader"
HELP = "train the code reader (a CTC recognizer on codebook 1) that picks the best of N candidates at inference"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest-dir", type=Path, required=True,
                   help="tokenized corpus: cuts_train.jsonl.gz (+ cuts_dev.jsonl.gz), symbol table, codec.json")  # fmt: skip
    p.add_argument("--out", "-o", type=Path, required=True, help="the reader checkpoint to write")
    p.add_argument("--max-duration", type=float, default=200.0, help="seconds of audio per batch")
    p.add_argument("--num-epochs", type=int, default=20, help="passes over cuts_train")
    p.add_argument("--max-minutes", type=float, default=None, help="stop after this many minutes of training")
    p.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (after a linear warm-up)")
    p.add_argument("--warmup-steps", type=int, default=200, help="steps of linear learning-rate warm-up")
    p.add_argument("--dim", type=int, default=256, help="channels of the reader's convolutions")
    p.add_argument("--valid-interval", type=int, default=500, help="steps between dev evaluations")
    p.add_argument("--num-workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--num-threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="seeds the weights and the batch order")
    p.add_argument("--init", type=Path, default=None,
                   help="go on training this reader (same symbols and codec); its dev loss is the one to beat")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from valle.errors import InvalidInputError
    from valle.train.reader import ReaderTrainConfig, train_reader
    from valle.utils import set_num_threads

    for name in ("max_duration", "num_epochs", "lr", "warmup_steps", "dim", "valid_interval"):
        if getattr(args, name) <= 0:
            raise InvalidInputError(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    if args.max_minutes is not None and args.max_minutes <= 0:
        raise InvalidInputError(f"--max-minutes must be > 0, got {args.max_minutes}")
    set_num_threads(args.num_threads)
    cfg = ReaderTrainConfig(
        manifest_dir=args.manifest_dir, out=args.out, max_duration=args.max_duration, num_epochs=args.num_epochs,
        max_minutes=args.max_minutes, lr=args.lr, warmup_steps=args.warmup_steps, dim=args.dim,
        valid_interval=args.valid_interval, num_workers=args.num_workers, seed=args.seed, init=args.init,
    )  # fmt: skip
    best = train_reader(cfg)
    print(f"wrote {args.out} (dev loss {best:.4f} nats per phoneme)")
    return 0
