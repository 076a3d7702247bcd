"""The recipes under egs/ run end to end (offline, from stage 1) on small fake corpora in each exact layout."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from lhotse import load_manifest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_codec(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from valle.codec import fit_builtin_codec

    wavs = sorted((small_corpus / "train-clean-100").rglob("*.wav"))[:4]
    path = tmp_path_factory.mktemp("codec") / "codec.pt"
    fit_builtin_codec(wavs, codebook_size=16, iterations=3, vocoder="griffin-lim").save(path)
    return path


def run_recipe(name: str, workdir: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = subprocess.run(["bash", str(REPO / "egs" / name / "prepare.sh"), *args], cwd=workdir, env=env,
                         capture_output=True, text=True, check=False, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def _speech(corpus: Path, n: int) -> list[np.ndarray]:
    wavs = sorted(corpus.rglob("*.wav"))[:n]
    return [sf.read(w, dtype="float32")[0] for w in wavs]


def _assert_splits(tokenized: Path) -> dict[str, int]:
    sizes = {}
    for split in ("train", "dev", "test"):
        cuts = load_manifest(tokenized / f"cuts_{split}.jsonl.gz")
        for cut in cuts:
            assert cut.supervisions[0].custom["tokens"]["text"]
            assert cut.load_custom("codes").shape[1] == 8
        sizes[split] = len(cuts)
    assert (tokenized / "unique_text_tokens.k2symbols").is_file()
    return sizes


def test_libritts_recipe_on_a_libritts_tree(small_corpus: Path, tiny_codec: Path, tmp_path: Path) -> None:
    shutil.copytree(small_corpus, tmp_path / "download" / "LibriTTS")
    stdout = run_recipe("libritts", tmp_path, "--stage", "1", "--audio-extractor", "Builtin", "--codec", str(tiny_codec),
                        "--dataset-parts", "train-clean-100 dev-clean test-clean")
    sizes = _assert_splits(tmp_path / "data" / "tokenized")
    n = {p: len(list((small_corpus / p).rglob("*.wav"))) for p in ("train-clean-100", "dev-clean", "test-clean")}
    assert sizes == {"train": n["train-clean-100"], "dev": n["dev-clean"], "test": n["test-clean"]}
    assert "| cuts_train.jsonl.gz |" in stdout


def test_aishell_recipe_on_an_aishell_tree(small_corpus: Path, tiny_codec: Path, tmp_path: Path) -> None:
    root = tmp_path / "download" / "aishell" / "data_aishell"
    sentences = ["老师您好", "今天天气很好", "我们去银行", "他长大了", "重新开始吧", "你还好吗"]
    lines, audio = [], _speech(small_corpus, 12)
    for i, wav in enumerate(audio):
        part = "train" if i < 6 else "dev" if i < 10 else "test"
        spk = f"S000{i % 2 + 2}"
        utt = f"BAC009{spk}W{i:04d}"
        (root / "wav" / part / spk).mkdir(parents=True, exist_ok=True)
        sf.write(root / "wav" / part / spk / f"{utt}.wav", soxr.resample(wav, 24000, 16000), 16000)
        lines.append(f"{utt} {' '.join(sentences[i % len(sentences)])}")
    (root / "transcript").mkdir(parents=True)
    (root / "transcript" / "aishell_transcript_v0.8.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_recipe("aishell1", tmp_path, "--stage", "1", "--audio-extractor", "Builtin", "--codec", str(tiny_codec))
    sizes = _assert_splits(tmp_path / "data" / "tokenized")
    assert sizes == {"train": 6, "dev": 4, "test": 2}  # < 400 dev cuts: all of them stay in dev
    cut = next(iter(load_manifest(tmp_path / "data" / "tokenized" / "cuts_test.jsonl.gz")))
    assert any(t[-1].isdigit() for t in cut.supervisions[0].custom["tokens"]["text"])  # tone digits: pinyin


def test_ljspeech_recipe_on_an_ljspeech_tree(small_corpus: Path, tiny_codec: Path, tmp_path: Path) -> None:
    root = tmp_path / "download" / "LJSpeech-1.1"
    (root / "wavs").mkdir(parents=True)
    rows = []
    for i, wav in enumerate(_speech(small_corpus, 20)):
        utt = f"LJ00{1 + i // 10}-{i % 10 + 1:04d}"
        sf.write(root / "wavs" / f"{utt}.wav", soxr.resample(wav, 24000, 22050), 22050)
        rows.append(f"{utt}|It cost 5 dollars, said number {i}.|It cost five dollars, said number {i}.")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    run_recipe("ljspeech", tmp_path, "--stage", "1", "--audio-extractor", "Builtin", "--codec", str(tiny_codec))
    assert _assert_splits(tmp_path / "data" / "tokenized") == {"train": 18, "dev": 1, "test": 1}


def test_synthetic_train_recipe_prepares_and_trains_with_profile_overrides(tmp_path: Path) -> None:
    """egs/synthetic/train.sh stages 0-5 at toy size: corpus, shipped codec, tokens, a 2-step training run."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = ["--stop-stage", "5", "--speakers", "3", "--utterances-per-speaker", "4", "--decoder-dim", "32",
            "--nhead", "2", "--num-decoder-layers", "1", "--max-minutes", "0", "--max-steps", "2", "--num-jobs", "1",
            "--fp32-attention", "true"]
    out = subprocess.run(["bash", str(REPO / "egs/synthetic/train.sh"), *args], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=False, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (tmp_path / "data" / "codec.pt").read_bytes() == (REPO / "valle/assets/synth-codec.pt").read_bytes()
    assert _assert_splits(tmp_path / "data" / "tokenized")["train"] > 0
    from valle.models import load_checkpoint

    model = load_checkpoint(tmp_path / "exp" / "model-last.pt")
    assert (model.config.decoder_dim, model.config.num_decoder_layers) == (32, 1)  # the overrides won
    from valle.models import read_checkpoint_dict

    latest = (tmp_path / "exp" / "latest.txt").read_text().strip()
    written = read_checkpoint_dict(tmp_path / "exp" / latest)
    assert written["state"]["step"] == 2  # --max-steps reached valle train
    assert written["train_config"]["fp32_attention"] is True  # and so did --fp32-attention
    bad = subprocess.run(["bash", str(REPO / "egs/synthetic/train.sh"), "--profile", "tpu"], cwd=tmp_path,
                         capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "cpu, gpu-small or gpu" in bad.stderr


def test_synthetic_finetune_recipe_keeps_the_demo_test_part_unseen_and_trains_only_the_chosen_half(
    tmp_path: Path,
) -> None:
    """egs/synthetic/finetune.sh stages 0-4 at toy size, the NAR alone: the demo's test voices and sentences stay out
    of the training mix, the export changes only the NAR, and it recommends the shipped checkpoint's sampling."""
    import gzip
    import json

    import torch

    from valle.models import read_checkpoint_dict

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = ["--stop-stage", "4", "--seeds", "10", "--speakers", "3", "--utterances-per-speaker", "4",
            "--train-stage", "2", "--max-minutes", "0", "--max-steps", "2", "--max-duration", "20",
            "--num-workers", "0", "--num-threads", "2", "--num-jobs", "2"]  # fmt: skip
    out = subprocess.run(["bash", str(REPO / "egs/synthetic/finetune.sh"), *args], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=False, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    demo = tmp_path / "data_ft" / "demo" / "download" / "SynthTTS"
    shipped_settings = json.loads((REPO / "valle/assets/synth-corpus.json").read_text())
    assert json.loads((demo / "synth_corpus.json").read_text())["settings"] == shipped_settings  # the demo's corpus
    test_texts = {line.split("\t")[1] for tsv in (demo / "test-clean").rglob("*.trans.tsv")
                  for line in tsv.read_text().splitlines() if line}  # fmt: skip
    with gzip.open(tmp_path / "data_ft" / "mix" / "cuts_train.jsonl.gz", "rt") as f:
        cuts = [json.loads(line) for line in f]
    texts = {s["text"] for c in cuts for s in c["supervisions"]}
    assert any(c["id"].startswith("s10x") for c in cuts) and test_texts and not texts & test_texts

    shipped = read_checkpoint_dict(REPO / "valle/assets/valle-synth-small.pt")
    tuned = read_checkpoint_dict(tmp_path / "exp_ft" / "finetuned.pt")
    assert tuned["extra"]["synthesis"] == shipped["extra"]["synthesis"] and tuned["extra"]["synthesis"]
    assert set(shipped["symbols"]) <= set(tuned["symbols"])  # the toy corpora lack some: kept all the same
    same_table = sorted(tuned["symbols"]) == sorted(shipped["symbols"])  # else the text rows moved to new ids
    ar = [k for k in shipped["state_dict"] if k.startswith("ar_") and (same_table or "text_embedding" not in k)]
    nar = [k for k in shipped["state_dict"] if k.startswith("nar_")]
    assert ar and nar
    assert all(torch.equal(tuned["state_dict"][k], shipped["state_dict"][k]) for k in ar)
    assert not all(torch.equal(tuned["state_dict"][k], shipped["state_dict"][k]) for k in nar)

    bad = subprocess.run(["bash", str(REPO / "egs/synthetic/finetune.sh"), "--train-stage", "3"], cwd=tmp_path,
                         capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--train-stage must be 0, 1 or 2" in bad.stderr
