"""Recipe splits, custom-folder manifests and the Kaldi-style option parser of egs/."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from lhotse import load_manifest

from tests.conftest import REPO
from tests.data.test_dataset import make_cuts
from valle.commands.tokenize import parse_parts
from valle.data.folder import prepare_folder
from valle.data.recipes import combine_splits, cut_stats, split_counts
from valle.errors import DataError, InvalidInputError, MissingFileError


def test_ljspeech_split_counts() -> None:
    assert split_counts(13_100) == (12_500, 200, 400)
    assert split_counts(20) == (18, 1, 1)
    train, dev, test = split_counts(1000)
    assert (dev, test) == (15, 31) and train + dev + test == 1000
    with pytest.raises(InvalidInputError, match="at least 3"):
        split_counts(2)


def test_parse_parts_accepts_both_reference_spellings() -> None:
    assert parse_parts("dev-clean test-clean") == ("dev-clean", "test-clean")
    assert parse_parts("-p train -p dev") == ("train", "dev")


def _write_parts(folder: Path, prefix: str, parts: dict[str, int]) -> None:
    for i, (part, n) in enumerate(parts.items()):
        (folder / part).mkdir()
        cuts = make_cuts(folder / part, speakers=1, per_speaker=n, seed=i)
        cuts = cuts.modify_ids(lambda x, p=part: f"{p}-{x}")
        cuts.to_file(folder / f"{prefix}_cuts_{part}.jsonl.gz")


def test_libritts_combines_train_parts(tmp_path: Path) -> None:
    _write_parts(tmp_path, "libritts", {"train-clean-100": 3, "train-clean-360": 2, "dev-clean": 2, "test-clean": 1})
    paths = combine_splits("libritts", tmp_path)
    assert len(load_manifest(paths["train"])) == 5
    assert len(load_manifest(paths["dev"])) == 2 and len(load_manifest(paths["test"])) == 1
    stats = cut_stats(paths["train"])
    assert stats.cuts == 5 and stats.speakers == 1 and stats.max_text_tokens > 0


def test_train_cuts_are_shuffled_once_with_a_fixed_seed(tmp_path: Path) -> None:
    """The bucketing sampler shuffles within a buffer only, so cuts_train must not keep the parts' speaker order."""
    _write_parts(tmp_path, "libritts", {"train-clean-100": 30, "train-clean-360": 20, "dev-clean": 5, "test-clean": 4})
    in_order = [c.id for part in ("train-clean-100", "train-clean-360")
                for c in load_manifest(tmp_path / f"libritts_cuts_{part}.jsonl.gz")]  # fmt: skip
    dev_in_order = [c.id for c in load_manifest(tmp_path / "libritts_cuts_dev-clean.jsonl.gz")]
    paths = combine_splits("libritts", tmp_path)
    first = [c.id for c in load_manifest(paths["train"])]
    assert sorted(first) == sorted(in_order) and first != in_order
    head = set(first[:25])  # the first half mixes both parts instead of being train-clean-100 alone
    assert any(i.startswith("train-clean-360") for i in head) and any(i.startswith("train-clean-100") for i in head)
    assert [c.id for c in load_manifest(paths["dev"])] == dev_in_order  # dev and test keep their order
    assert [c.id for c in load_manifest(combine_splits("libritts", tmp_path)["train"])] == first  # reproducible


def test_aishell_first_400_dev_cuts_are_dev_rest_join_train(tmp_path: Path) -> None:
    _write_parts(tmp_path, "aishell", {"train": 3, "dev": 403, "test": 2})
    dev_ids = [c.id for c in load_manifest(tmp_path / "aishell_cuts_dev.jsonl.gz")]
    paths = combine_splits("aishell", tmp_path)
    assert [c.id for c in load_manifest(paths["dev"])] == dev_ids[:400]
    train_ids = [c.id for c in load_manifest(paths["train"])]
    assert len(train_ids) == 6 and set(dev_ids[400:]) < set(train_ids)


def test_missing_split_is_a_clear_error(tmp_path: Path) -> None:
    _write_parts(tmp_path, "libritts", {"train-clean-100": 2, "dev-clean": 1})
    with pytest.raises(MissingFileError, match="no tokenized test part"):
        combine_splits("libritts", tmp_path)


def test_prepare_folder_makes_manifests_and_counts_bad_items(tmp_path: Path) -> None:
    src = tmp_path / "mydata"
    for spk in ("alice", "bob"):
        (src / spk).mkdir(parents=True)
        for i in range(5):
            sf.write(src / spk / f"utt{i}.wav", np.random.default_rng(i).normal(0, 0.1, 16000), 16000)
            (src / spk / f"utt{i}.txt").write_text(f"Sentence number {i} by {spk}.\n")
    (src / "bob" / "orphan.wav").write_bytes(b"RIFF not really a wav")
    (src / "bob" / "orphan.txt").write_text("corrupt audio")
    sf.write(src / "bob" / "notext.wav", np.zeros(1600), 16000)
    (src / "bob" / "empty.txt").write_text("  \n")
    sf.write(src / "bob" / "empty.wav", np.zeros(1600), 16000)
    summary = prepare_folder(src, tmp_path / "manifests", dev_fraction=0.1, test_fraction=0.1)
    assert summary.skipped == {"unreadable_audio": 1, "no_transcript": 1, "empty_text": 1}
    assert sum(summary.kept.values()) == 10
    sups = load_manifest(tmp_path / "manifests" / "custom_supervisions_train.jsonl.gz")
    assert {s.speaker for s in sups} <= {"alice", "bob"}
    s = next(iter(sups))
    assert s.text.startswith("Sentence number")


def test_prepare_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError):
        prepare_folder(tmp_path / "nope", tmp_path / "m")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="found 0 usable"):
        prepare_folder(tmp_path / "empty", tmp_path / "m")


def test_recipe_option_parser_rejects_unknown_options() -> None:
    def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(REPO / script), *args], capture_output=True, text=True, check=False)

    out = run("egs/synthetic/prepare.sh", "--no-such-option", "1")
    assert out.returncode == 2 and "unknown option --no-such-option" in out.stderr
    out = run("egs/libritts/prepare.sh", "--help")
    assert out.returncode == 0 and "--dataset-parts" in out.stdout
