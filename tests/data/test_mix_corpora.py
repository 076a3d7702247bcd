"""egs/synthetic/local/mix_corpora.py: tokenized corpora -> one training set with one codes h5."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.conftest import REPO

SECRET = "A sentence of the evaluation set."
TEST_VOICE = "espeak:en-us:p50:r150"


def _load_script():
    spec = importlib.util.spec_from_file_location("mix_corpora", REPO / "egs/synthetic/local/mix_corpora.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cut(cut_id: str, speaker: str, text: str, h5: Path, tokens: list[str], seconds: float = 1.0) -> dict:
    return {
        "id": cut_id, "start": 0, "duration": seconds, "channel": 0, "type": "MonoCut",
        "supervisions": [{"id": cut_id, "recording_id": cut_id, "start": 0.0, "duration": seconds, "channel": 0,
                          "text": text, "speaker": speaker, "custom": {"tokens": {"text": tokens}}}],
        "recording": {"id": cut_id, "sources": [], "sampling_rate": 24000, "num_samples": 24000,
                      "duration": seconds, "channel_ids": [0]},
        "custom": {"codes": {"array": {"storage_type": "numpy_hdf5", "storage_path": str(h5), "storage_key": cut_id,
                                       "shape": [75, 8]}, "temporal_dim": 0, "frame_shift": 1 / 75, "start": 0}},
    }


def _write(folder: Path, manifests: dict[str, list[dict]], codec: str = '{"backend": "builtin"}') -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, cuts in manifests.items():
        with gzip.open(folder / name, "wt") as f:
            f.writelines(json.dumps(c) + "\n" for c in cuts)
    (folder / "codec.json").write_text(codec)
    (folder / "text_tokenizer.json").write_text('{"backend": "espeak"}')


def _codes(h5: Path, ids: list[str], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {i: rng.integers(0, 1024, (75, 8)).astype(np.int16) for i in ids}
    with h5py.File(h5, "w") as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
    return arrays


def _corpus_info(folder: Path, speakers: dict[str, tuple[str, str]], seed: int | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    info = {"speakers": {s: {"voice": v, "part": p} for s, (v, p) in speakers.items()}}
    if seed is not None:
        info["settings"] = {"seed": seed}
    (folder / "synth_corpus.json").write_text(json.dumps(info))


@pytest.fixture
def corpora(tmp_path: Path) -> dict[str, Path]:
    evals = tmp_path / "eval"
    _corpus_info(evals, {"1033": (TEST_VOICE, "test-clean")})
    (evals / "test-clean/1033/100").mkdir(parents=True)
    (evals / "test-clean/1033/100/1033_100.trans.tsv").write_text(f"1033_100_0\t{SECRET}\t{SECRET}\n")

    a = tmp_path / "a"
    a.mkdir()
    a_codes = _codes(a / "codes.h5", ["1000_0", "1000_1", "1000_2"], seed=0)
    _write(a, {"cuts_train.jsonl.gz": [_cut("1000_0", "1000", "Hello there.", a / "codes.h5", ["h", "ə"]),
                                       _cut("1000_1", "1000", SECRET, a / "codes.h5", ["ʃ"])],
               "cuts_dev.jsonl.gz": [_cut("1000_2", "1000", "A dev line.", a / "codes.h5", ["d"])]})
    b = tmp_path / "b"
    b.mkdir()
    ids = ["1000_0", "1011_0", "1011_1", "1011_2", "1022_0"]  # the same ids as corpus A: another seed reuses them
    b_codes = _codes(b / "codes.h5", ids, seed=1)
    cut = {i: _cut(i, i.split("_")[0], f"Line {i}.", b / "codes.h5", ["b", i[-1]]) for i in ids}
    _write(b, {"libritts_cuts_train-clean-100.jsonl.gz": [cut["1000_0"], cut["1011_0"], cut["1011_1"]],
               "libritts_cuts_dev-clean.jsonl.gz": [cut["1011_2"]],
               "libritts_cuts_test-clean.jsonl.gz": [cut["1022_0"]]})
    _corpus_info(tmp_path / "b_corpus", {"1000": (TEST_VOICE, "train-clean-100"),  # the evaluation's test voice
                                         "1011": ("flite:slt:p200:r1", "train-clean-100"),
                                         "1022": ("espeak:en-us+f2:p40:r170", "test-clean")})
    return {"eval": evals, "a": a, "b": b, "b_corpus": tmp_path / "b_corpus", "out": tmp_path / "mix",
            "a_codes": a_codes, "b_codes": b_codes}


def _read(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def test_mix_keeps_the_evaluation_unseen_prefixes_b_and_moves_every_code(corpora: dict, tmp_path: Path) -> None:
    mix = _load_script()
    h5 = tmp_path / "device" / "codes.h5"
    counts = mix.mix(corpora["a"], [(corpora["b"], corpora["b_corpus"])], corpora["eval"], 3 / 3600, corpora["out"], h5)
    train = _read(corpora["out"] / "cuts_train.jsonl.gz")
    dev = _read(corpora["out"] / "cuts_dev.jsonl.gz")
    # A's cut with an evaluation sentence is gone; B's speaker with the evaluation's voice is gone; B is taken
    # one cut per speaker per round (1011, 1022, then 1011 again) until 3 s; B's ids carry the prefix; the
    # training cuts are written in a seeded random order
    ids = [c["id"] for c in train]
    assert sorted(ids) == ["1000_0", "s1x1011_0", "s1x1011_1", "s1x1022_0"]
    assert [c["id"] for c in dev] == ["1000_2"]
    b_cut = train[ids.index("s1x1011_0")]
    assert b_cut["supervisions"][0]["speaker"] == "s1x1011" and b_cut["recording"]["id"] == "s1x1011_0"
    assert counts["b_speakers_dropped"] == 1 and counts["b_cuts"] == 3 and counts["a_train_cuts"] == 1
    with h5py.File(h5) as f:
        for c in train + dev:
            array = c["custom"]["codes"]["array"]
            assert array["storage_path"] == str(h5) and array["storage_key"] == c["id"]
            source = corpora["b_codes"][c["id"][3:]] if c["id"].startswith("s1x") else corpora["a_codes"][c["id"]]
            np.testing.assert_array_equal(f[c["id"]][()], source)
        assert len(f.keys()) == 5
    symbols = (corpora["out"] / "unique_text_tokens.k2symbols").read_text().split()[::2]
    assert set(symbols) == {"<eps>", "h", "ə", "d", "b", "0", "1"}  # the union of what the kept cuts use


def test_mix_several_b_corpora_and_codebook_1_only(corpora: dict, tmp_path: Path) -> None:
    """A second B corpus (another seed) gets its own prefix; --codebooks 1 zeroes codebooks 2-8 of the training
    cuts only (AR-only training), and the dev cuts keep all of theirs."""
    b2_corpus = tmp_path / "b2_corpus"
    _corpus_info(b2_corpus, {"1011": ("flite:slt:p180:r1", "train-clean-100"),
                             "1022": ("espeak:en-us+f2:p40:r170", "test-clean")}, seed=7)
    h5 = tmp_path / "codes.h5"
    args = ["--a", str(corpora["a"]), "--eval-corpus", str(corpora["eval"]), "--hours-b", "1",
            "--out", str(corpora["out"]), "--h5", str(h5), "--codebooks", "1"]
    for b, info in ((corpora["b"], corpora["b_corpus"]), (corpora["b"], b2_corpus)):
        args += ["--b", str(b), "--b-corpus", str(info)]
    assert _load_script().main(args) == 0
    train = _read(corpora["out"] / "cuts_train.jsonl.gz")
    ids = [c["id"] for c in train]
    # corpus B read twice: as seed 1 (its 1000 has the evaluation's voice) and as seed 7 (no such voice)
    assert "1000_0" in ids
    assert {i for i in ids if i.startswith("s1x")} == {"s1x1011_0", "s1x1011_1", "s1x1011_2", "s1x1022_0"}
    assert {i for i in ids if i.startswith("s7x")} == {f"s7x{i}" for i in ["1000_0", "1011_0", "1011_1", "1011_2",
                                                                            "1022_0"]}
    with h5py.File(h5) as f:
        for cut_id in ids:
            source = corpora["a_codes"][cut_id] if cut_id[0] != "s" else corpora["b_codes"][cut_id[3:]]
            np.testing.assert_array_equal(f[cut_id][:, 0], source[:, 0])
            assert not f[cut_id][:, 1:].any()
        np.testing.assert_array_equal(f["1000_2"][()], corpora["a_codes"]["1000_2"])  # dev: every codebook


def test_mix_same_seed_twice_is_refused(corpora: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["--a", str(corpora["a"]), "--eval-corpus", str(corpora["eval"]), "--hours-b", "1",
            "--out", str(tmp_path / "o"), "--h5", str(tmp_path / "codes.h5")]
    args += ["--b", str(corpora["b"]), "--b-corpus", str(corpora["b_corpus"])] * 2
    assert _load_script().main(args) == 2
    assert "same seed" in capsys.readouterr().err and not (tmp_path / "codes.h5").exists()


def test_mix_bad_input_is_one_line_and_exit_2(corpora: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["--a", str(corpora["a"]), "--b", str(corpora["b"]), "--b-corpus", str(corpora["b_corpus"]),
            "--eval-corpus", str(corpora["eval"]), "--hours-b", "1", "--out", str(tmp_path / "o"),
            "--h5", str(tmp_path / "codes.h5")]
    (corpora["b"] / "codec.json").write_text('{"backend": "encodec"}')
    assert _load_script().main(args) == 2
    err = capsys.readouterr().err
    assert "different codecs" in err and err.count("\n") == 1
    (corpora["b"] / "codec.json").unlink()
    assert _load_script().main(args) == 2
    assert "codec.json not found" in capsys.readouterr().err
    assert _load_script().main(args + ["--b", str(corpora["b"])]) == 2
    assert "2 --b but 1 --b-corpus" in capsys.readouterr().err
    assert _load_script().main(args + ["--codebooks", "0"]) == 2
    assert "--codebooks must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "codes.h5").exists()
