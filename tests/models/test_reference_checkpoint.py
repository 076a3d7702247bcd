"""The lifeiteng/vall-e checkpoint in ../shared/reference reproduces the reference's own outputs (fp32, CPU)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from valle.models import VALLE, PrefixMode, TrainStage, compute_losses

# The reference ran on the same torch/CPU build: results are bit-identical today; allow fp32 rounding.
ATOL, RTOL = 1e-5, 1e-5


def test_loads_with_reference_config(reference_model: VALLE) -> None:
    c = reference_model.config
    assert (c.architecture, c.decoder_dim, c.nhead, c.num_decoder_layers) == ("valle", 64, 4, 2)
    assert c.prefix_mode == PrefixMode.START and c.share_embedding and not c.prepend_bos and c.num_quantizers == 8
    assert reference_model.parameter_counts()["total"] == 1_028_868  # the README's unique-parameter count
    assert reference_model.meta.source == "lifeiteng"
    assert reference_model.meta.extra["exp_dir"] == "exp/valle_ref_A"  # PosixPath read back as plain text
    assert not reference_model.training
    # share_embedding ties prediction layer j to audio embedding j + 2 (same tensor, not a copy).
    m = reference_model
    assert m.nar_predict_layers[0].weight is m.nar_audio_embeddings[2].word_embeddings.weight
    assert m.nar_predict_layers[6].weight is not m.nar_audio_embeddings[1].word_embeddings.weight


def test_ar_inputs_and_targets_match(reference_model: VALLE, reference_outputs: dict) -> None:
    o = reference_outputs
    codes, valid = reference_model.clean_codes(o["y"], o["y_lens"])
    inputs, targets, real = reference_model.ar_io(codes, valid)
    assert torch.equal(inputs, o["ar_inputs"])
    assert torch.equal(targets, o["ar_targets"])
    assert torch.equal(real, o["ar_valid"])


def test_ar_logits_match(reference_model: VALLE, reference_outputs: dict) -> None:
    o = reference_outputs
    with torch.no_grad():
        logits = reference_model.ar_logits(o["x"], o["x_lens"], o["y"], o["y_lens"])
    assert logits.shape == (2, 48, 1025)
    torch.testing.assert_close(logits, o["ar_logits"], atol=ATOL, rtol=RTOL)
    # The reference's AR loss is the CE over *all* positions (padding trained as EOS): check we read it right.
    ref_sum = F.cross_entropy(o["ar_logits"].transpose(1, 2), o["ar_targets"], reduction="sum")
    torch.testing.assert_close(ref_sum, o["ar_loss_sum"], atol=1e-3, rtol=1e-6)


@pytest.mark.parametrize("stage", range(1, 8))
def test_nar_logits_match_every_stage(reference_model: VALLE, reference_outputs: dict, stage: int) -> None:
    o = reference_outputs
    with torch.no_grad():
        logits = reference_model.nar_logits(o["x"], o["x_lens"], o["y"], o["y_lens"], stage=stage, prefix_len=10)
    assert logits.shape == (2, 38, 1024)
    torch.testing.assert_close(logits, o[f"nar_logits_stage{stage}"], atol=ATOL, rtol=RTOL)


def test_losses_agree_with_reference_up_to_documented_differences(reference_model: VALLE, reference_outputs: dict) -> None:
    o = reference_outputs
    with torch.no_grad():
        out = compute_losses(
            reference_model, o["x"], o["x_lens"], o["y"], o["y_lens"],
            train_stage=TrainStage.BOTH, nar_stage=3, prefix_len=10,
        )  # fmt: skip
    # AR: ours sums only real positions (frames + one EOS each); the reference also sums padding.
    keep = o["ar_valid"]
    expected_ar = F.cross_entropy(o["ar_logits"][keep], o["ar_targets"][keep], reduction="sum")
    torch.testing.assert_close(out.ar_loss, expected_ar, atol=1e-3, rtol=1e-6)
    assert out.ar_tokens == int(keep.sum()) == 48 + 40
    # NAR: same sum; the reference rescales it by total / (total - prefix * B).
    total = float(o["y_lens"].sum())
    scale = total / (total - 10 * 2)
    torch.testing.assert_close(out.nar_loss * scale, o["nar_loss_stage3"], atol=1e-3, rtol=1e-6)
    assert out.nar_tokens == 38 + 30 and (out.nar_stage, out.prefix_len) == (3, 10)
    # The reference's stage-0 loss is (its AR sum + its scaled NAR sum) / 2.
    reference_stage0 = (o["ar_loss_sum"] + out.nar_loss * scale) / 2
    torch.testing.assert_close(reference_stage0, o["loss_train_stage0_nar_stage3"], atol=1e-3, rtol=1e-6)
    # Our differentiable loss is the mean of the two per-token means.
    torch.testing.assert_close(out.loss, (out.ar_loss / out.ar_tokens + out.nar_loss / out.nar_tokens) / 2)


@pytest.mark.parametrize("case", ["eos", "length_cap"])
@pytest.mark.parametrize("use_cache", [True, False], ids=["kv_cache", "no_cache"])
def test_greedy_generation_matches(reference_model: VALLE, reference_outputs: dict, case: str, use_cache: bool) -> None:
    o = reference_outputs
    x, x_lens = o[f"infer_{case}_x"], o[f"infer_{case}_x_lens"]
    prompt, enroll = o[f"infer_{case}_prompt"], o[f"infer_{case}_enroll_x_lens"]
    codes = reference_model.generate(x, x_lens, prompt, enroll, top_k=1, use_cache=use_cache)
    expected = o[f"infer_{case}_codes"]
    assert codes.shape == expected.shape  # eos: stops at 122 frames; length_cap: 16 * 12 + 1 = 193
    assert torch.equal(codes, expected)


@pytest.mark.parametrize("case", ["eos", "length_cap"])
def test_ar_step_logits_match(reference_model: VALLE, reference_outputs: dict, case: str) -> None:
    """The reference's per-step AR logits equal our teacher-forced logits on prompt + generated codes."""
    o = reference_outputs
    x, x_lens, prompt = o[f"infer_{case}_x"], o[f"infer_{case}_x_lens"], o[f"infer_{case}_prompt"]
    full = torch.cat([prompt, o[f"infer_{case}_codes"]], dim=1)  # [1, P + N, 8]
    p, n = prompt.shape[1], o[f"infer_{case}_codes"].shape[1]
    with torch.no_grad():
        logits = reference_model.ar_logits(x, x_lens, full, torch.tensor([p + n]))[0]  # [P + N, 1025]
    torch.testing.assert_close(logits[p - 1 : p + 2], o[f"infer_{case}_ar_step_logits_first3"], atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(logits[p + n - 1], o[f"infer_{case}_ar_step_logits_last"], atol=ATOL, rtol=RTOL)
    if case == "eos":
        assert int(o["infer_eos_ar_step_logits_last"].argmax()) == reference_model.config.eos_id
