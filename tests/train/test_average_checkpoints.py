"""`valle average-checkpoints` on what `valle train` writes: periodic training checkpoints of one run."""

from __future__ import annotations

from pathlib import Path

import torch

from valle.cli import main
from valle.models import load_checkpoint, read_checkpoint_dict
from valle.train import train

from .conftest import CODEC, TOKENIZER, tiny_config


def test_training_checkpoints_of_one_run_average_into_an_inference_checkpoint(
    random_corpus: Path, tmp_path: Path
) -> None:
    exp = tmp_path / "exp"
    train(tiny_config(random_corpus, exp, num_epochs=1, max_steps=4, save_every_n=2, keep_last_k=2))
    inputs = [exp / "checkpoint-2.pt", exp / "checkpoint-4.pt"]
    assert main(["average-checkpoints", *map(str, inputs), "-o", str(tmp_path / "avg.pt")]) == 0
    avg = load_checkpoint(tmp_path / "avg.pt")
    assert avg.meta.source == "valle" and avg.meta.tokenizer == TOKENIZER and avg.meta.codec == CODEC
    assert avg.meta.symbols == load_checkpoint(inputs[0]).meta.symbols  # synthesis needs no side file
    a, b = (read_checkpoint_dict(p)["model"] for p in inputs)
    moved = 0
    for name, v in avg.state_dict().items():
        if v.is_floating_point():
            assert torch.equal(v, ((a[name].double() + b[name].double()) / 2).float()), name
            moved += not torch.equal(a[name], b[name])
    assert moved > 10  # two steps apart, the weights differ, so the mean is a new model
