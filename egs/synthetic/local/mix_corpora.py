#!/usr/bin/env python3
"""Merge tokenized synthetic corpora into one compact training set, e.g. to carry it to a rented GPU.

Why: the shipped checkpoint's runs (docs/pretrained/README.md) needed more voices than the 40-speaker corpus,
and a device lease carries at most 64 MiB, so the codes of all corpora go into ONE h5 file of only the cuts
used (all 8 codebooks compress to ~2.3 MB per hour with `xz -9`; codebook 1 alone, what the AR learns from, to
~0.2 MB, the h5's per-cut overhead included).  Corpora made with different `--seed`s reuse speaker and utterance
ids, so each B corpus' ids get the prefix `s{seed}x`.  Evaluation stays honest: B's speakers whose voice equals
a test speaker of the evaluation corpus (the demo's) are dropped, and so is every cut, from A or B, whose
sentence is one of that corpus' test sentences.

    python egs/synthetic/local/mix_corpora.py --a big/data/tokenized --b big2/data/tokenized \
        --b-corpus big2/download/SynthTTS --eval-corpus demo_check/corpus --hours-b 9.2 \
        --out mix --h5 /work/gpu/codes.h5

Train = A's cuts_train + each B's cuts of every part, taken round-robin over its speakers until --hours-b
(per B corpus), written in a seeded random order (as `valle.data.recipes` writes cuts_train, for the same
reason); dev = A's cuts_dev.  `--b`/`--b-corpus` may be repeated (in the same order).  `--h5` is where
the training will read the codes (the manifests store that path).  `--codebooks 1` keeps only codebook 1 of the
training cuts (the rest become zeros, which xz stores in almost nothing) for AR-only training
(`valle train --train-stage 1`); the dev cuts keep every codebook.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

B_PARTS = ("train-clean-100", "dev-clean", "test-clean")


def read_cuts(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write_cuts(path: Path, cuts: list[dict]) -> None:
    from valle.utils import atomic_write

    with atomic_write(path) as tmp, gzip.open(tmp, "wt", encoding="utf-8") as f:
        for cut in cuts:
            f.write(json.dumps(cut, ensure_ascii=False) + "\n")


def test_speakers_and_texts(corpus: Path) -> tuple[set[str], set[str]]:
    """Voices (engine:voice:pitch:rate) and sentences of a corpus' test-clean part."""
    info = json.loads((corpus / "synth_corpus.json").read_text())
    voices = {s["voice"] for s in info["speakers"].values() if s["part"] == "test-clean"}
    texts = set()
    for tsv in (corpus / "test-clean").rglob("*.trans.tsv"):
        texts.update(line.split("\t")[1].strip() for line in tsv.read_text().splitlines() if line)
    return voices, texts


def text_of(cut: dict) -> str:
    return cut["supervisions"][0]["text"].strip()


def with_prefix(cut: dict, prefix: str) -> dict:
    """A copy of `cut` whose cut, supervision, recording and speaker ids start with `prefix`."""
    cut = copy.deepcopy(cut)
    sup = cut["supervisions"][0]
    cut["id"] = prefix + cut["id"]
    sup["id"], sup["recording_id"], sup["speaker"] = (prefix + sup[k] for k in ("id", "recording_id", "speaker"))
    cut["recording"]["id"] = prefix + cut["recording"]["id"]
    return cut


def pick_round_robin(cuts: list[dict], seconds: float) -> list[dict]:
    """Cuts taken one speaker at a time (speakers in id order) until `seconds` of audio: every voice is used."""
    by_speaker: dict[str, list[dict]] = defaultdict(list)
    for cut in cuts:
        by_speaker[cut["supervisions"][0]["speaker"]].append(cut)
    queues = [by_speaker[s] for s in sorted(by_speaker)]
    picked, total, depth = [], 0.0, 0
    while total < seconds and any(depth < len(q) for q in queues):
        for queue in queues:
            if depth < len(queue) and total < seconds:
                picked.append(queue[depth])
                total += queue[depth]["duration"]
        depth += 1
    return picked


def pick_b(b: Path, b_corpus: Path, voices: set[str], texts: set[str], hours: float) -> tuple[list[dict], int]:
    """B's usable cuts (prefixed) up to `hours`, and how many of its speakers had an evaluation voice."""
    info = json.loads((b_corpus / "synth_corpus.json").read_text())
    dropped = {spk for spk, s in info["speakers"].items() if s["voice"] in voices}
    prefix = f"s{info.get('settings', {}).get('seed', 1)}x"
    cuts = [c for part in B_PARTS for c in read_cuts(b / f"libritts_cuts_{part}.jsonl.gz")]
    ok = [c for c in cuts if c["supervisions"][0]["speaker"] not in dropped and text_of(c) not in texts]
    return [with_prefix(c, prefix) for c in pick_round_robin(ok, 3600 * hours)], len(dropped)


def mix(a: Path, bs: list[tuple[Path, Path]], eval_corpus: Path, hours_b: float, out: Path, h5: Path,
        h5_local: Path | None = None, codebooks: int | None = None) -> dict[str, float]:
    """Write cuts_train/cuts_dev, the union symbol table and the codes h5; return counts for the log.

    `bs`: (tokenized folder, corpus folder) of each B corpus.  `codebooks`: keep only the first N codebooks of
    the training cuts (the others are zeroed); None keeps all.
    """
    import h5py

    from valle.data.recipes import TRAIN_ORDER_SEED
    from valle.text import SymbolTable
    from valle.utils import atomic_write

    for b, _ in bs:
        if (a / "codec.json").read_text() != (b / "codec.json").read_text():
            raise ValueError(f"{a} and {b} were encoded with different codecs; tokenize both with the same one")
    voices, texts = test_speakers_and_texts(eval_corpus)
    a_train = [c for c in read_cuts(a / "cuts_train.jsonl.gz") if text_of(c) not in texts]
    b_pick, dropped_speakers = [], 0
    for b, b_corpus in bs:
        picked, dropped = pick_b(b, b_corpus, voices, texts, hours_b)
        b_pick += picked
        dropped_speakers += dropped
    if len({c["id"] for c in b_pick}) != len(b_pick):
        raise ValueError("two B corpora have the same seed (their ids collide): pass each corpus once, each made "
                         "with its own `valle synth-corpus --seed`")
    train, dev = a_train + b_pick, read_cuts(a / "cuts_dev.jsonl.gz")

    out.mkdir(parents=True, exist_ok=True)
    sources: dict[str, h5py.File] = {}
    symbols: set[str] = set()
    with atomic_write(h5_local or h5) as tmp, h5py.File(tmp, "w") as sink:
        for k, cut in enumerate(train + dev):
            array = cut["custom"]["codes"]["array"]
            src = sources.setdefault(array["storage_path"], h5py.File(array["storage_path"], "r"))
            codes = src[array["storage_key"]][()]
            if codebooks is not None and k < len(train):  # dev cuts keep every codebook
                codes[:, codebooks:] = 0
            sink.create_dataset(cut["id"], data=codes)
            array["storage_path"], array["storage_key"] = str(h5), cut["id"]
            symbols.update(cut["supervisions"][0]["custom"]["tokens"]["text"])
    for f in sources.values():
        f.close()
    random.Random(TRAIN_ORDER_SEED).shuffle(train)  # the sampler shuffles within a buffer only: no corpus runs
    write_cuts(out / "cuts_train.jsonl.gz", train)
    write_cuts(out / "cuts_dev.jsonl.gz", dev)
    SymbolTable.from_symbols(sorted(symbols)).to_file(out / "unique_text_tokens.k2symbols")
    for name in ("text_tokenizer.json", "codec.json"):
        (out / name).write_text((a / name).read_text())
    return {
        "a_train_cuts": len(a_train), "a_hours": sum(c["duration"] for c in a_train) / 3600,
        "b_cuts": len(b_pick), "b_hours": sum(c["duration"] for c in b_pick) / 3600,
        "b_speakers": len({c["supervisions"][0]["speaker"] for c in b_pick}),
        "b_speakers_dropped": dropped_speakers, "dev_cuts": len(dev), "symbols": len(symbols),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", type=Path, required=True, help="tokenized folder of corpus A (its cuts_train/dev)")
    p.add_argument("--b", type=Path, action="append", required=True,
                   help="tokenized folder of a corpus B (its libritts_cuts_*); repeat for more")
    p.add_argument("--b-corpus", type=Path, action="append", required=True,
                   help="that corpus B itself (its synth_corpus.json); one per --b, in the same order")
    p.add_argument("--eval-corpus", type=Path, required=True, help="the corpus whose test-clean stays unseen")
    p.add_argument("--hours-b", type=float, required=True, help="hours to add from each corpus B")
    p.add_argument("--out", type=Path, required=True, help="folder for the manifests (the --manifest-dir)")
    p.add_argument("--h5", type=Path, required=True, help="path the manifests give the codes (where training reads)")
    p.add_argument("--h5-local", type=Path, default=None, help="where to write the h5 now (default: --h5)")
    p.add_argument("--codebooks", type=int, default=None,
                   help="keep only the first N codebooks of the training cuts (1: for --train-stage 1)")
    args = p.parse_args(argv)
    if len(args.b) != len(args.b_corpus):
        print(f"mix_corpora.py: {len(args.b)} --b but {len(args.b_corpus)} --b-corpus; give one --b-corpus per --b",
              file=sys.stderr)
        return 2
    if args.codebooks is not None and args.codebooks < 1:
        print(f"mix_corpora.py: --codebooks must be at least 1, got {args.codebooks}; use 1 for AR-only training or "
              "leave it out to keep every codebook", file=sys.stderr)
        return 2
    needed = [args.a / "cuts_train.jsonl.gz", args.a / "cuts_dev.jsonl.gz", args.eval_corpus / "synth_corpus.json"]
    needed += [b / "codec.json" for b in args.b] + [c / "synth_corpus.json" for c in args.b_corpus]
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        print(f"mix_corpora.py: {missing[0]} not found; point --a/--b at `valle tokenize` + `valle combine-cuts` "
              "output and --b-corpus/--eval-corpus at `valle synth-corpus` folders", file=sys.stderr)
        return 2
    try:
        counts = mix(args.a, list(zip(args.b, args.b_corpus)), args.eval_corpus, args.hours_b, args.out, args.h5,
                     args.h5_local, args.codebooks)
    except ValueError as e:
        print(f"mix_corpora.py: {e}", file=sys.stderr)
        return 2
    print(json.dumps(counts, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
