"""Training-checkpoint files: RNG round trip, safe loading, atomic writes, which file to resume, pruning."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from valle.errors import CheckpointError, MissingFileError
from valle.models import read_checkpoint_dict
from valle.train import checkpoint as ck
from valle.train.averaging import averaged_state_dict, init_average, update_average


def _draws(gen: torch.Generator) -> tuple:
    return (random.random(), float(np.random.rand()), float(torch.rand(1)), float(torch.rand(1, generator=gen)))


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(5)
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    state = ck.capture_rng(gen)
    path = ck.save_train_checkpoint(tmp_path / "checkpoint-1.pt", {"rng": [state]})
    expected = _draws(gen)
    _draws(gen)  # move every generator on
    loaded = read_checkpoint_dict(path)  # weights_only=True: only plain data inside
    assert loaded["format"] == ck.FORMAT
    ck.restore_rng(loaded["rng"][0], gen)
    assert _draws(gen) == expected


def test_failed_save_leaves_no_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint-2.pt"
    ck.save_train_checkpoint(target, {"value": torch.ones(2)})
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):
        ck.save_train_checkpoint(target, {"value": lambda: None})  # not picklable: fails mid-write
    assert torch.equal(read_checkpoint_dict(target)["value"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-2.pt", "latest.txt"]


def test_prune_keeps_the_newest_by_step_number(tmp_path: Path) -> None:
    for step in (2, 9, 10, 30, 100):
        (tmp_path / f"checkpoint-{step}.pt").write_bytes(b"x")
    (tmp_path / "epoch-1.pt").write_bytes(b"x")
    deleted = ck.prune_checkpoints(tmp_path, keep_last_k=2)
    assert sorted(p.name for p in deleted) == ["checkpoint-10.pt", "checkpoint-2.pt", "checkpoint-9.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-100.pt", "checkpoint-30.pt", "epoch-1.pt"]


def test_resume_path_follows_the_reference_flags_and_latest(tmp_path: Path) -> None:
    assert ck.resume_path(tmp_path, None, 0, 1) is None
    assert ck.resume_path(tmp_path, "latest", 0, 1) is None  # nothing yet: fresh start
    with pytest.raises(MissingFileError, match="checkpoint-7.pt"):
        ck.resume_path(tmp_path, None, 7, 1)
    for name in ("checkpoint-7.pt", "checkpoint-12.pt", "epoch-2.pt"):
        (tmp_path / name).write_bytes(b"x")
    assert ck.resume_path(tmp_path, None, 7, 5) == tmp_path / "checkpoint-7.pt"  # --start-batch wins
    assert ck.resume_path(tmp_path, None, 0, 3) == tmp_path / "epoch-2.pt"
    assert ck.resume_path(tmp_path, "latest", 0, 1) == tmp_path / "checkpoint-12.pt"  # highest step
    (tmp_path / ck.LATEST).write_text("epoch-2.pt\n")
    assert ck.resume_path(tmp_path, "latest", 0, 1) == tmp_path / "epoch-2.pt"  # the pointer wins
    assert ck.resume_path(tmp_path, str(tmp_path / "epoch-2.pt"), 0, 1) == tmp_path / "epoch-2.pt"
    with pytest.raises(MissingFileError, match="--resume checkpoint .* is a folder, not a file; give a checkpoint file"):
        ck.resume_path(tmp_path, str(tmp_path), 0, 1)  # the experiment folder instead of a file in it
    with pytest.raises(MissingFileError, match="--resume checkpoint .*nope.pt does not exist"):
        ck.resume_path(tmp_path, str(tmp_path / "nope.pt"), 0, 1)


def test_foreign_checkpoint_gives_weights_only(tmp_path: Path) -> None:
    torch.save({"model": {"w": torch.ones(1)}, "decoder_dim": 8}, tmp_path / "ref.pt")
    loaded = ck.load_train_checkpoint(tmp_path / "ref.pt")
    assert loaded["foreign"] and torch.equal(loaded["model"]["w"], torch.ones(1))
    torch.save({"nothing": 1}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="no model weights"):
        ck.load_train_checkpoint(tmp_path / "bad.pt")


def test_running_average_is_the_mean_of_the_snapshots() -> None:
    model = torch.nn.Linear(3, 2)
    period, snapshots = 2, []
    avg = init_average(model)
    for step in range(1, 9):
        with torch.no_grad():
            model.weight.add_(torch.randn(2, 3))
        if step % period == 0:
            snapshots.append(model.weight.detach().clone().double())
            update_average(avg, model, step, period)
    torch.testing.assert_close(avg["weight"], torch.stack(snapshots).mean(0))
    assert averaged_state_dict(avg, model)["weight"].dtype == torch.float32
