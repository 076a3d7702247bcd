"""Reference-format checkpoints with other option combinations load and reproduce logits.

The reference code cannot run here (it needs k2/icefall), so checkpoints are written in its exact layout
(`model` state dict with its key names + every trainer flag as a top-level key, `PosixPath` values included)
from randomly perturbed models, then loaded through `load_checkpoint`.  Two combinations are also checked
against `reference_math`, an independent plain-torch forward written from the reference's math.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from tests.models import reference_math
from tests.models.conftest import make_batch, randomize_, reference_format_dict, write_reference_checkpoint
from valle.models import ModelConfig, PrefixMode, build_model, debug_config, load_checkpoint, read_checkpoint_dict

ATOL, RTOL = 1e-5, 1e-5

COMBOS = {
    "vallf": {"model_name": "VALL-F"},
    "postnorm": {"norm_first": False},
    "prenet": {"add_prenet": True},
    "bos": {"prepend_bos": True},
    "no_sharing": {"share_embedding": False},
    "nar_scaled": {"scale_factor": 2.0},
    "prefix0": {"prefix_mode": PrefixMode.NONE},
    "prefix2": {"prefix_mode": PrefixMode.RANDOM},
    "prefix4": {"prefix_mode": PrefixMode.OTHER},
    "ar_only": {"num_quantizers": 1},
    "four_codebooks": {"num_quantizers": 4},
    "vallf_all": {"model_name": "VALL-F", "norm_first": False, "add_prenet": True, "prepend_bos": True, "share_embedding": False},
}


def _nar_kwargs(config: ModelConfig, y: torch.Tensor) -> dict:
    if config.prefix_mode == PrefixMode.START:
        return {"prefix_len": 3}
    if config.prefix_mode in (PrefixMode.RANDOM, PrefixMode.OTHER):
        return {"prompt": y[:, 2:6].flip(0)}
    return {}


@pytest.mark.parametrize("name", COMBOS)
def test_reference_format_checkpoint_loads_and_matches(tmp_path: Path, name: str) -> None:
    config = debug_config(**COMBOS[name])
    model = randomize_(build_model(config), seed=len(name))
    path = write_reference_checkpoint(tmp_path / "epoch-3.pt", model)
    with pytest.raises(pickle.UnpicklingError):  # plain safe loading refuses the trainer's PosixPath values
        torch.load(path, weights_only=True)

    loaded = load_checkpoint(path)
    assert loaded.config.to_dict() == config.replace(model_name=config.architecture).to_dict()
    assert loaded.meta.source == "lifeiteng" and loaded.meta.extra["exp_dir"] == "exp/test"
    assert loaded.parameter_counts() == model.parameter_counts()

    x, x_lens, y, y_lens = make_batch(config, [9, 6], [14, 10], seed=1)
    with torch.no_grad():
        torch.testing.assert_close(loaded.ar_logits(x, x_lens, y, y_lens), model.ar_logits(x, x_lens, y, y_lens))
        for stage in range(1, config.num_quantizers):
            kw = _nar_kwargs(config, y)
            torch.testing.assert_close(
                loaded.nar_logits(x, x_lens, y, y_lens, stage, **kw), model.nar_logits(x, x_lens, y, y_lens, stage, **kw)
            )


@pytest.mark.parametrize(
    "options",
    [
        {"model_name": "VALL-F", "norm_first": False, "add_prenet": True, "prepend_bos": True, "share_embedding": False},
        {"model_name": "VALL-E", "norm_first": False, "add_prenet": True, "prepend_bos": True, "prefix_mode": PrefixMode.RANDOM},
        {"model_name": "VALL-F", "scale_factor": 2.0, "prefix_mode": PrefixMode.START},
    ],
    ids=["vallf_postnorm_prenet_bos_unshared", "valle_postnorm_prenet_bos_prefix2", "vallf_prenorm_scaled_prefix1"],
)
def test_independent_reference_math_agrees(tmp_path: Path, options: dict) -> None:
    """Loaded logits equal a from-scratch plain-torch forward of the reference's equations."""
    config = debug_config(**options)
    ckpt = reference_format_dict(randomize_(build_model(config), seed=7))
    path = tmp_path / "ref.pt"
    torch.save(ckpt, path)
    model = load_checkpoint(path)
    sd = {k: v.float() for k, v in ckpt["model"].items()}
    x, x_lens, y, y_lens = make_batch(config, [11, 7], [16, 12], seed=3)
    with torch.no_grad():
        ours = model.ar_logits(x, x_lens, y, y_lens)
        theirs = reference_math.ar_logits(sd, ckpt, x, x_lens, y, y_lens)
        assert ours.shape == (2, 16 + config.prepend_bos, 1025)
        torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=RTOL)
        for stage in (1, 4, 7):
            if config.prefix_mode == PrefixMode.START:
                ours = model.nar_logits(x, x_lens, y, y_lens, stage, prefix_len=4)
                theirs = reference_math.nar_logits(sd, ckpt, x, x_lens, y, y_lens, stage, prefix_len=4)
            else:
                prompt = y[:, 3:8].flip(0)
                ours = model.nar_logits(x, x_lens, y, y_lens, stage, prompt=prompt)
                theirs = reference_math.nar_logits(sd, ckpt, x, x_lens, y, y_lens, stage, prompt=prompt)
            torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=RTOL)


def test_reference_math_reproduces_the_real_reference(reference_dir: Path, reference_outputs: dict) -> None:
    """Calibrates `reference_math` itself against the outputs the real reference code produced."""
    ckpt = read_checkpoint_dict(reference_dir / "lifeiteng_ckpt/epoch-1.pt")
    o = reference_outputs
    with torch.no_grad():
        ar = reference_math.ar_logits(ckpt["model"], ckpt, o["x"], o["x_lens"], o["y"], o["y_lens"])
        nar = reference_math.nar_logits(ckpt["model"], ckpt, o["x"], o["x_lens"], o["y"], o["y_lens"], 5, prefix_len=10)
    torch.testing.assert_close(ar, o["ar_logits"], atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(nar, o["nar_logits_stage5"], atol=ATOL, rtol=RTOL)
