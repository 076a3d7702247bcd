"""The recipes' Python side: split LJSpeech, combine tokenized parts into cuts_{train,dev,test}, statistics.

Splits follow lifeiteng/vall-e's egs/*/prepare.sh:
    libritts   train = train-clean-100 + train-clean-360 + train-other-500 (those present),
               dev = dev-clean, test = test-clean
    synthetic  as libritts (the corpus generator writes the LibriTTS layout)
    aishell    dev = the first 400 dev cuts, train = train + the other dev cuts, test = test
    ljspeech   manifests split before tokenizing: train = first 12,500, dev = next 200, test = last 400 of
               13,100 (a smaller corpus keeps the same proportions, at least one item each)
    custom     train/dev/test parts made by `valle prepare-folder`, copied as they are

cuts_train is written in a seeded random order (dev and test keep theirs).  Training reads it lazily, and
lhotse's DynamicBucketingSampler shuffles only within its 20,000-cut buffer, so a manifest written speaker by
speaker or corpus by corpus would be walked in that order every epoch: the model would spend each stretch of an
epoch on a few voices.  The reference writes the parts in order.  Measured on a 116 h manifest of eight corpora
written one after another: the first eighth of an epoch's batches took 73 % of their cuts from the first two
corpora, the last half almost none.  The splits are read into memory here anyway (about 860 MB for 116 k cuts,
so a few GB for all of LibriTTS, at tokenization time only); the shuffle only reorders the training list.
"""

from __future__ import annotations

import logging
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

from lhotse import CutSet, load_manifest, load_manifest_lazy

from valle.data.config import TEXT_TOKENS_KEY
from valle.errors import InvalidInputError, MissingFileError, require_file
from valle.utils import atomic_write

logger = logging.getLogger(__name__)

RECIPES = ("libritts", "synthetic", "aishell", "ljspeech", "custom")
LIBRITTS_TRAIN = ("train-clean-100", "train-clean-360", "train-other-500")
LJSPEECH_SPLIT = (12_500, 200, 400)  # train, dev, test of 13,100 utterances
TRAIN_ORDER_SEED = 0  # cuts_train's order is random but the same on every run (see the module docstring)


def _parts(recipe: str) -> tuple[str, dict[str, list[str]]]:
    """(manifest prefix, {split: [tokenized parts]}) for a recipe."""
    if recipe in ("libritts", "synthetic"):
        return "libritts", {"train": list(LIBRITTS_TRAIN), "dev": ["dev-clean"], "test": ["test-clean"]}
    if recipe in ("ljspeech", "custom"):
        return recipe, {"train": ["train"], "dev": ["dev"], "test": ["test"]}
    if recipe == "aishell":
        return "aishell", {"train": ["train"], "dev": ["dev"], "test": ["test"]}
    raise InvalidInputError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")


def _write_cuts(cuts: CutSet, path: Path) -> None:
    with atomic_write(path) as tmp:
        cuts.to_file(tmp)


def combine_splits(recipe: str, tokenized_dir: Path, suffix: str = "jsonl.gz") -> dict[str, Path]:
    """Write `cuts_{train,dev,test}.jsonl.gz` in `tokenized_dir` from its `{prefix}_cuts_{part}` files."""
    prefix, splits = _parts(recipe)
    tokenized_dir = Path(tokenized_dir)
    found = {
        split: [p for part in parts if (p := tokenized_dir / f"{prefix}_cuts_{part}.{suffix}").is_file()]
        for split, parts in splits.items()
    }
    for split, paths in found.items():
        if not paths:
            names = [f"{prefix}_cuts_{part}.{suffix}" for part in splits[split]]
            looked_for = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
            raise MissingFileError(
                f"no tokenized {split} part in {tokenized_dir} (looked for {looked_for}); run 'valle tokenize' first"
            )
    out: dict[str, Path] = {}
    sets = {split: CutSet.from_cuts(c for p in paths for c in load_manifest_lazy(p)) for split, paths in found.items()}
    if recipe == "aishell":
        dev = list(sets["dev"])
        sets["dev"] = CutSet.from_cuts(dev[:400])
        sets["train"] = CutSet.from_cuts(list(sets["train"]) + dev[400:])
    sets["train"] = sets["train"].shuffle(random.Random(TRAIN_ORDER_SEED))  # eager already: reorders in memory
    for split, cuts in sets.items():
        out[split] = tokenized_dir / f"cuts_{split}.{suffix}"
        _write_cuts(cuts, out[split])
    return out


def split_counts(n: int) -> tuple[int, int, int]:
    """LJSpeech's 12,500 / 200 / 400 split, or the same proportions for a corpus of another size."""
    if n < 3:
        raise InvalidInputError(f"need at least 3 utterances to make train/dev/test splits, found {n}")
    total = sum(LJSPEECH_SPLIT)
    if n >= total:
        return n - LJSPEECH_SPLIT[1] - LJSPEECH_SPLIT[2], LJSPEECH_SPLIT[1], LJSPEECH_SPLIT[2]
    dev = max(1, round(n * LJSPEECH_SPLIT[1] / total))
    test = max(1, round(n * LJSPEECH_SPLIT[2] / total))
    return n - dev - test, dev, test


SPLITS = ("train", "dev", "test")
MANIFEST_KINDS = ("recordings", "supervisions")


def split_manifests(
    manifest_dir: Path, prefix: str = "ljspeech", part: str = "all", suffix: str = "jsonl.gz", overwrite: bool = False
) -> dict[str, dict[str, int]]:
    """Split `{prefix}_{recordings,supervisions}_{part}` into train/dev/test parts (in file order, as the reference).

    Returns {kind: {split: items written}}.  Refuses, before writing anything, to split one of its own outputs
    and (unless `overwrite`) to replace an existing split: either silently lost utterances (splitting
    prepare-folder's train part turned its 4/1/1 utterances into 2/1/1 and dropped the old dev and test).
    """
    manifest_dir = Path(manifest_dir)
    _check_split_paths(manifest_dir, prefix, part, suffix, overwrite)
    written: dict[str, dict[str, int]] = {}
    for kind in MANIFEST_KINDS:
        manifest = load_manifest(manifest_dir / f"{prefix}_{kind}_{part}.{suffix}")
        items = list(manifest)
        n_train, n_dev, _ = split_counts(len(items))
        pieces = {"train": items[:n_train], "dev": items[n_train : n_train + n_dev], "test": items[n_train + n_dev :]}
        for split, chunk in pieces.items():
            with atomic_write(manifest_dir / f"{prefix}_{kind}_{split}.{suffix}") as tmp:
                type(manifest).from_items(chunk).to_file(tmp)
        written[kind] = {split: len(chunk) for split, chunk in pieces.items()}
    return written


def _check_split_paths(manifest_dir: Path, prefix: str, part: str, suffix: str, overwrite: bool) -> None:
    """Refuse a split that lacks its input or would overwrite manifests (see `split_manifests`)."""
    if part in SPLITS:
        raise InvalidInputError(
            f"--part {part} cannot be split: the split writes {prefix}_*_{{{','.join(SPLITS)}}}.{suffix} and would "
            f"overwrite its own input {manifest_dir / f'{prefix}_supervisions_{part}.{suffix}'}; split a whole-corpus "
            "part such as 'all'"
        )
    for kind in MANIFEST_KINDS:
        src = manifest_dir / f"{prefix}_{kind}_{part}.{suffix}"
        require_file(src, "manifest", f"run 'lhotse prepare {prefix}' first")
    existing = [p for kind in MANIFEST_KINDS for split in SPLITS
                if (p := manifest_dir / f"{prefix}_{kind}_{split}.{suffix}").exists()]  # fmt: skip
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more of its split)" if len(existing) > 1 else ""
        raise InvalidInputError(
            f"{existing[0]} already exists{more}; pass --overwrite to replace the split, or move the existing "
            "manifests away first"
        )


@dataclass
class CutStats:
    """Summary of one cut manifest (printed by the recipes after combining)."""

    name: str
    cuts: int
    hours: float
    speakers: int
    mean_duration: float
    max_duration: float
    mean_text_tokens: float
    max_text_tokens: int

    def row(self) -> str:
        return (
            f"| {self.name} | {self.cuts} | {self.hours:.3f} | {self.speakers} | {self.mean_duration:.2f} | "
            f"{self.max_duration:.2f} | {self.mean_text_tokens:.1f} | {self.max_text_tokens} |"
        )


STATS_HEADER = "| split | cuts | hours | speakers | mean s | max s | mean tokens | max tokens |\n|---|---|---|---|---|---|---|---|"


def cut_stats(path: Path) -> CutStats:
    durations, tokens, speakers = [], [], set()
    for cut in load_manifest_lazy(path):
        durations.append(cut.duration)
        sup = cut.supervisions[0]
        speakers.add(sup.speaker)
        tokens.append(len((sup.custom or {}).get(TEXT_TOKENS_KEY, {}).get("text", [])))
    if not durations:
        return CutStats(Path(path).name, 0, 0.0, 0, 0.0, 0.0, 0.0, 0)
    return CutStats(
        name=Path(path).name,
        cuts=len(durations),
        hours=sum(durations) / 3600,
        speakers=len(speakers),
        mean_duration=statistics.fmean(durations),
        max_duration=max(durations),
        mean_text_tokens=statistics.fmean(tokens),
        max_text_tokens=max(tokens),
    )
