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
    """The message names real files (it once printed a format set: 'custom_cuts_{train}.jsonl.gz')."""
    _write_parts(tmp_path, "libritts", {"train-clean-100": 2, "dev-clean": 1})
    with pytest.raises(MissingFileError, match="no tokenized test part") as e:
        combine_splits("libritts", tmp_path)
    assert "(looked for libritts_cuts_test-clean.jsonl.gz)" in str(e.value), e.value
    with pytest.raises(MissingFileError) as e:
        combine_splits("custom", tmp_path)
    assert "(looked for custom_cuts_train.jsonl.gz)" in str(e.value), e.value
    (tmp_path / "libritts_cuts_train-clean-100.jsonl.gz").unlink()
    with pytest.raises(MissingFileError) as e:
        combine_splits("libritts", tmp_path)
    assert ("(looked for libritts_cuts_train-clean-100.jsonl.gz, libritts_cuts_train-clean-360.jsonl.gz or "
            "libritts_cuts_train-other-500.jsonl.gz)") in str(e.value), e.value


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


def _voice_folder(src: Path, speakers: int = 2, per_speaker: int = 3) -> Path:
    """<src>/<speaker>/<name>.wav + .txt pairs, the layout `valle prepare-folder` reads."""
    for s in range(speakers):
        (src / f"spk{s}").mkdir(parents=True)
        for i in range(per_speaker):
            sf.write(src / f"spk{s}" / f"u{i}.wav", np.random.default_rng(i).normal(0, 0.1, 1600), 16000)
            (src / f"spk{s}" / f"u{i}.txt").write_text(f"Sentence {i}.\n")
    return src


def _counts(folder: Path, prefix: str) -> dict[str, int]:
    return {split: len(load_manifest(folder / f"{prefix}_supervisions_{split}.jsonl.gz"))
            for split in ("train", "dev", "test")}  # fmt: skip


def test_split_manifests_never_overwrites_a_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Splitting prepare-folder's train part rewrote train/dev/test in place (6 utterances became 4); splitting
    over an earlier split lost it too.  Both are refused, by file name, with nothing written."""
    from valle.cli import main

    man = tmp_path / "man"
    assert main(["prepare-folder", "--src", str(_voice_folder(tmp_path / "v")), "--out", str(man)]) == 0
    before = _counts(man, "custom")
    assert before == {"train": 4, "dev": 1, "test": 1}
    capsys.readouterr()
    assert main(["split-manifests", "--manifest-dir", str(man), "--prefix", "custom", "--part", "train"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--part train cannot be split" in err and "custom_supervisions_train" in err, err
    assert _counts(man, "custom") == before

    for kind in ("recordings", "supervisions"):  # a whole-corpus part under another prefix
        (man / f"mine_{kind}_all.jsonl.gz").write_bytes((man / f"custom_{kind}_train.jsonl.gz").read_bytes())
    argv = ["split-manifests", "--manifest-dir", str(man), "--prefix", "mine"]
    assert main(argv) == 0
    assert _counts(man, "mine") == {"train": 2, "dev": 1, "test": 1}
    out = capsys.readouterr().out
    assert f"{man / 'mine_supervisions_{train,dev,test}.jsonl.gz'}: train 2, dev 1, test 1" in out, out
    (man / "mine_supervisions_dev.jsonl.gz").write_bytes((man / "custom_supervisions_train.jsonl.gz").read_bytes())
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mine_recordings_train.jsonl.gz already exists" in err and "--overwrite" in err
    assert _counts(man, "mine")["dev"] == 4  # untouched
    assert main([*argv, "--overwrite"]) == 0 and _counts(man, "mine")["dev"] == 1


@pytest.mark.parametrize(
    ("dev", "test", "message"),
    [
        ("-1", "0.05", "--dev-fraction must be >= 0 and < 1, got -1"),
        ("0.05", "1", "--test-fraction must be >= 0 and < 1, got 1"),
        ("nan", "0.05", "--dev-fraction must be >= 0 and < 1, got nan"),
        ("0.9", "0.9", "--dev-fraction 0.9 and --test-fraction 0.9 add up to 1.8"),
        ("0.5", "0.45", "leave no utterances for train (dev 3, test 3 of 6)"),
    ],
)
def test_prepare_folder_refuses_a_split_without_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dev: str, test: str, message: str
) -> None:
    """`--dev-fraction 0.9 --test-fraction 0.9` wrote 'train 0, dev 5, test 1' with exit code 0."""
    from valle.cli import main

    argv = ["prepare-folder", "--src", str(_voice_folder(tmp_path / "v")), "--out", str(tmp_path / "m")]
    assert main([*argv, "--dev-fraction", dev, "--test-fraction", test]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "m").exists()


def test_prepare_folder_empty_folder_error_is_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "src" / "spk").mkdir(parents=True)
    sf.write(tmp_path / "src" / "spk" / "a.wav", np.zeros(1600), 16000)
    with pytest.raises(DataError) as e:
        prepare_folder(tmp_path / "src", tmp_path / "m")
    assert "{" not in str(e.value) and "skipped: no_transcript 1" in str(e.value), e.value
    assert "put <speaker>/<name>.wav files with a <name>.txt transcript beside each" in str(e.value)
