"""`valle phonemize`: print the tokens a text becomes (one line per text, tokens separated by spaces)."""

from __future__ import annotations

import argparse
import sys

NAME = "phonemize"
HELP = "print the text tokens (phonemes, pinyin or characters) of one or more texts"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from valle.text.config import BACKENDS

    p.add_argument("texts", nargs="+", metavar="TEXT", help="text(s) to tokenize; '-' reads one text per stdin line")
    p.add_argument("--backend", default="espeak", choices=BACKENDS, help="G2P backend (default: espeak)")
    p.add_argument(
        "--language",
        default=None,
        help="language / espeak voice, e.g. en-us, fr-fr, cmn (default: en-us for espeak, cmn for pypinyin)",
    )
    p.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write numbers and abbreviations out as words first (English only; default: on; "
        "use --no-normalize for lifeiteng/vall-e checkpoints)",
    )
    p.add_argument("--show-text", action="store_true", help="print the (normalized) text and a tab before the tokens")


def run(args: argparse.Namespace) -> int:
    from valle.errors import InvalidInputError
    from valle.text import TextTokenizer

    # An empty argument is a mistake (an unset shell variable, say); an empty stdin line keeps its place in the
    # output, one line per input line, so that the output still lines up with the input.
    for i, text in enumerate(args.texts, start=1):
        if not text.strip():
            raise InvalidInputError(f"text {i} of the command line is empty; give something to phonemize")
    tokenizer = TextTokenizer(backend=args.backend, language=args.language, normalize=args.normalize)
    texts: list[str] = []
    for text in args.texts:
        if text == "-":
            texts.extend(line.rstrip("\n") for line in sys.stdin)
        else:
            texts.append(text)
    for text, tokens in zip(texts, tokenizer.tokenize(texts), strict=True):
        prefix = f"{tokenizer.normalize_text(text)}\t" if args.show_text else ""
        print(prefix + " ".join(tokens))
    return 0
