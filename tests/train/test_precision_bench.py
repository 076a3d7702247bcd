"""bench/precision.py: float32 against autocast gradients of a checkpoint's training forward, batch by batch."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

from valle.models import load_checkpoint
from valle.train import train

from .conftest import tiny_config

BENCH = Path(__file__).resolve().parents[2] / "bench" / "precision.py"


def _bench():
    spec = importlib.util.spec_from_file_location("precision_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def checkpoint(random_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    exp = tmp_path_factory.mktemp("precision_exp")
    train(tiny_config(random_corpus, exp, num_epochs=1, max_steps=2))
    return exp / "model-last.pt"


def test_gradients_agree_in_float32_and_drift_under_bf16(checkpoint: Path, random_corpus: Path) -> None:
    bench = _bench()
    model = bench.quiet_model(load_checkpoint(checkpoint))
    batch = next(bench.load_batches(model, random_corpus, 6.0))
    loss_a, ref = bench.gradients(model, batch, 1, None)
    loss_b, again = bench.gradients(model, batch, 1, None)
    cos, ratio, per = bench.compare(ref, again)
    assert loss_a == loss_b and cos == pytest.approx(1.0, abs=1e-6) and ratio == pytest.approx(1.0, abs=1e-6)
    assert per and all(name.startswith("ar_") for name in per)  # stage 1: the AR's parameters only

    loss_low, low = bench.gradients(model, batch, 1, torch.bfloat16)
    cos, ratio, per = bench.compare(ref, low)
    assert loss_low == pytest.approx(loss_a, rel=0.05) and loss_low != loss_a  # bf16 rounds, a little
    assert 0.5 < cos < 1.0 and 0.5 < ratio < 2.0
    with bench.attention_in_float32(model):
        loss_att, att = bench.gradients(model, batch, 1, torch.bfloat16)
    assert loss_att != loss_low  # the attention blocks really ran in float32
    assert 0.5 < bench.compare(ref, att)[0] <= 1.0


def test_cli_prints_the_tables_and_rejects_another_symbol_table(checkpoint: Path, random_corpus: Path,
                                                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    bench = _bench()
    assert bench.main(["--checkpoint", str(checkpoint), "--manifest-dir", str(random_corpus), "--batches", "1",
                       "--max-duration", "6", "--fp32-attention", "--num-threads", "1"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "| 0 | bfloat16 |" in out and "| 0 | bfloat16 + fp32 attention |" in out
    assert out.count("Parameters whose gradients stray most") == 2

    other = tmp_path / "other"
    shutil.copytree(random_corpus, other)
    (other / "unique_text_tokens.k2symbols").write_text("<eps> 0\nzz 1\n")
    assert bench.main(["--checkpoint", str(checkpoint), "--manifest-dir", str(other)]) == 2
    assert "different symbol tables" in capsys.readouterr().err
