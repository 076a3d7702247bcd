"""`valle tokenize`: phonemize text and encode audio of lhotse manifests (lifeiteng/vall-e's bin/tokenizer.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "tokenize"
HELP = "phonemize transcripts and encode audio into codec codes, writing lhotse cut manifests"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--src-dir", type=Path, default=Path("data/manifests"), help="lhotse manifests folder")
    p.add_argument("--output-dir", type=Path, default=Path("data/tokenized"), help="where cuts and codes go")
    p.add_argument("--dataset-parts", default="dev-clean test-clean",
                   help="space-separated parts, e.g. 'train-clean-100 dev-clean test-clean' ('-p X' also accepted)")
    p.add_argument("--prefix", default="libritts", help="manifest prefix (libritts, aishell, ljspeech, custom)")
    p.add_argument("--suffix", default="jsonl.gz", help="manifest suffix")
    p.add_argument("--text-extractor", default=None,
                   help="espeak | pypinyin | pypinyin_initials_finals | char (default: by --prefix)")
    p.add_argument("--language", default=None, help="G2P language (default: the backend's, en-us for espeak)")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=True,
                   help="expand numbers/abbreviations before G2P (--no-normalize = the reference's text)")
    p.add_argument("--audio-extractor", default="Builtin", help="Encodec | Builtin | Fbank")
    p.add_argument("--codec", default=None, help="fitted built-in codec file (Builtin) or EnCodec checkpoint")
    p.add_argument("--batch-duration", type=float, default=100.0, help="seconds of audio per codec call")
    p.add_argument("--num-jobs", type=int, default=1, help="encoding workers (one per GPU when GPUs exist)")


def parse_parts(text: str) -> tuple[str, ...]:
    """'-p a -p b' or 'a b' -> ('a', 'b'), as the reference accepts both spellings."""
    return tuple(w for w in text.replace("--dataset-parts", " ").split() if w != "-p")


def run(args: argparse.Namespace) -> int:
    from valle.data.tokenize import TokenizeConfig, tokenize_corpus

    cfg = TokenizeConfig(
        src_dir=args.src_dir,
        output_dir=args.output_dir,
        dataset_parts=parse_parts(args.dataset_parts),
        prefix=args.prefix,
        suffix=args.suffix,
        text_extractor=args.text_extractor,
        language=args.language,
        normalize=args.normalize,
        audio_extractor=args.audio_extractor,
        codec=args.codec,
        batch_duration=args.batch_duration,
        num_jobs=args.num_jobs,
    )
    for s in tokenize_corpus(cfg):
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(s.skipped.items())) or "none"
        print(f"{s.part}: {s.kept} cuts, {s.hours:.3f} h; skipped: {skipped}")
    return 0
