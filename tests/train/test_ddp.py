"""Two-process DDP on CPU with gloo: torchrun and --world-size both finish with validation and checkpoints;
a mid-epoch resume of a DDP run continues exactly; validation uses every dev cut once across ranks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from valle.data.config import DataConfig
from valle.models import read_checkpoint_dict
from valle.text import TextTokenCollater
from valle.train.data import build_valid_loader

from .test_cli_train import TINY

TIMEOUT = 300  # a hang fails the test instead of blocking CI


def _args(corpus: Path, exp: Path, *extra: str) -> list[str]:
    return ["--manifest-dir", str(corpus), "--exp-dir", str(exp), *TINY, "--num-epochs", "1", "--log-interval", "1",
            "--valid-interval", "3", "--save-every-n", "2", "--seed", "7", *extra]  # fmt: skip


def _run(cmd: list[str]) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert out.returncode == 0, out.stderr[-3000:]


def _metrics(exp: Path) -> list[tuple[str, int, float]]:
    rows = [json.loads(x) for x in (exp / "metrics.jsonl").read_text().splitlines()]
    return [(r["split"], r["step"], r["loss"]) for r in rows]


@pytest.fixture(scope="module")
def torchrun_exp(random_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    exp = tmp_path_factory.mktemp("ddp") / "torchrun"
    torchrun = Path(sys.executable).with_name("torchrun")
    _run([str(torchrun), "--nproc-per-node", "2", "--master-port", "29561", "-m", "valle.train",
          *_args(random_corpus, exp)])  # fmt: skip
    return exp


@pytest.mark.slow
def test_torchrun_two_processes_validate_and_checkpoint(torchrun_exp: Path) -> None:
    exp = torchrun_exp
    for name in ("epoch-1.pt", "best-valid-loss.pt", "model-last.pt", "checkpoint-2.pt"):
        assert (exp / name).is_file(), name
    rows = _metrics(exp)
    assert any(split == "valid" for split, _, _ in rows) and any(split == "train" for split, _, _ in rows)
    ckpt = read_checkpoint_dict(exp / "epoch-1.pt")
    assert len(ckpt["ranks"]) == 2  # both ranks' RNG states are saved
    assert (exp / "log" / "log-train-rank1.txt").is_file()


@pytest.mark.slow
def test_world_size_spawn_resumes_a_ddp_run_exactly(random_corpus: Path, torchrun_exp: Path, tmp_path: Path) -> None:
    exp = tmp_path / "spawn"
    valle = [sys.executable, "-m", "valle", "train", "--world-size", "2", "--master-port", "29563"]
    _run([*valle, *_args(random_corpus, exp, "--max-steps", "2")])
    _run([*valle, *_args(random_corpus, exp, "--resume", "latest")])
    stop_validation = ("valid", 2, None)
    rows = [r for r in _metrics(exp) if r[:2] != stop_validation[:2]]
    assert rows == _metrics(torchrun_exp)
    a, b = read_checkpoint_dict(exp / "epoch-1.pt")["model"], read_checkpoint_dict(torchrun_exp / "epoch-1.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_validation_shards_use_every_dev_cut_once(random_corpus: Path) -> None:
    cfg = DataConfig(manifest_dir=random_corpus, max_duration=6.0, num_workers=0)
    collater = TextTokenCollater.from_symbol_table(random_corpus / "unique_text_tokens.k2symbols")
    seen = []
    for rank in range(2):
        loader = build_valid_loader(cfg, collater, with_prompts=False, seed=0, world_size=2, rank=rank)
        seen.append([u for batch in loader for u in batch["utt_id"]])
    single = [u for batch in build_valid_loader(cfg, collater, False, 0) for u in batch["utt_id"]]
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == sorted(single) and len(single) == 4
