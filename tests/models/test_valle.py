"""Shapes for every option combination, AR causality, padding handling, input validation."""

from __future__ import annotations

import itertools

import pytest
import torch

from tests.models.conftest import make_batch, randomize_
from valle.errors import InvalidInputError
from valle.models import ModelConfig, PrefixMode, TrainStage, build_model, compute_losses, debug_config

ALL_COMBOS = list(
    itertools.product(["VALL-E", "VALL-F"], [True, False], [False, True], [False, True], list(PrefixMode))
)


@pytest.mark.parametrize(
    "name,norm_first,prenet,bos,prefix", ALL_COMBOS, ids=lambda v: str(v.name if isinstance(v, PrefixMode) else v)
)
def test_shapes_for_every_option_combination(name: str, norm_first: bool, prenet: bool, bos: bool, prefix: PrefixMode) -> None:
    config = debug_config(model_name=name, norm_first=norm_first, add_prenet=prenet, prepend_bos=bos, prefix_mode=prefix)
    model = build_model(config).eval()
    x, x_lens, y, y_lens = make_batch(config, [8, 5, 6], [13, 9, 11])
    prompt = y[:, :4] if prefix in (PrefixMode.RANDOM, PrefixMode.OTHER) else None
    with torch.no_grad():
        assert model.ar_logits(x, x_lens, y, y_lens).shape == (3, 13 + bos, 1025)
        prefix_len = 3 if prefix == PrefixMode.START else 0
        nar = model.nar_logits(x, x_lens, y, y_lens, stage=2, prefix_len=prefix_len, prompt=prompt)
        assert nar.shape == (3, 13 - prefix_len, 1024)
        out = compute_losses(model, x, x_lens, y, y_lens, generator=torch.Generator().manual_seed(0), prompt=prompt)
        assert out.loss.ndim == 0 and torch.isfinite(out.loss)
        # AR tokens: every real frame's successor + one EOS per row = the frames (+1 per row with BOS).
        assert out.ar_tokens == 13 + 9 + 11 + (3 if bos else 0)
        codes = model.generate(x[:1], x_lens[:1], y[:1, :4], torch.tensor([3]), top_k=1, max_new_frames=5)
        assert codes.shape[0] == 1 and codes.shape[2] == 8 and 1 <= codes.shape[1] <= 5


@pytest.mark.parametrize(
    "options",
    [{"scale_factor": 2.0}, {"scale_factor": 0.5, "decoder_dim": 64, "nhead": 4, "num_decoder_layers": 2},
     {"num_quantizers": 1}, {"num_quantizers": 3, "share_embedding": True}, {"num_quantizers": 2}],
    ids=["nar_x2", "nar_x0.5", "ar_only", "q3", "q2"],
)
def test_sizes_follow_scale_factor_and_quantizers(options: dict) -> None:
    config = debug_config(**options)
    model = build_model(config).eval()
    x, x_lens, y, y_lens = make_batch(config, [6, 4], [10, 7])
    assert model.ar_logits(x, x_lens, y, y_lens).shape == (2, 10, 1025)
    if config.num_quantizers == 1:
        assert not any(n.startswith("nar_") for n, _ in model.named_parameters())
        with pytest.raises(InvalidInputError):
            model.nar_logits(x, x_lens, y, y_lens, stage=1)
        assert model.generate(x[:1], x_lens[:1], y[:1, :3], top_k=1, max_new_frames=4).shape[2] == 1
        return
    assert len(model.nar_decoder.layers) == config.nar_num_layers
    assert model.nar_decoder.layers[0].linear1.weight.shape == (4 * config.nar_dim, config.nar_dim)
    assert model.nar_decoder.num_heads == config.nar_nhead
    assert len(model.nar_predict_layers) == config.num_quantizers - 1
    for stage in range(1, config.num_quantizers):
        assert model.nar_logits(x, x_lens, y, y_lens, stage=stage, prefix_len=2).shape == (2, 8, 1024)


def test_default_config_matches_reference_defaults() -> None:
    c = ModelConfig()
    assert (c.decoder_dim, c.nhead, c.num_decoder_layers, c.scale_factor) == (1024, 16, 12, 1.0)
    assert c.norm_first and not c.add_prenet and c.prefix_mode == PrefixMode.NONE and c.share_embedding
    assert not c.prepend_bos and c.num_quantizers == 8 and c.num_text_tokens == 512 and c.num_audio_tokens == 1024
    with torch.device("meta"):  # count parameters without allocating 1.5 GB
        counts = build_model(c).parameter_counts()
    # The NOTES' measurement of the reference at this size: 367.4 M (AR 153.8 M, NAR 213.6 M).
    assert round(counts["total"] / 1e5) == 3674 and round(counts["ar"] / 1e5) == 1538 and round(counts["nar"] / 1e5) == 2136


@pytest.mark.parametrize("name,bos", [("VALL-E", False), ("VALL-E", True), ("VALL-F", False), ("VALL-F", True)])
def test_ar_is_causal(name: str, bos: bool) -> None:
    """Changing audio frame t0 (any codebook) never changes AR logits of positions before it."""
    config = debug_config(model_name=name, prepend_bos=bos, add_prenet=True)
    model = randomize_(build_model(config))
    x, x_lens, y, y_lens = make_batch(config, [7, 7], [12, 12])
    t0 = 6
    y2 = y.clone()
    y2[:, t0:] = (y2[:, t0:] + 17) % 1024  # every codebook of every frame from t0 on
    with torch.no_grad():
        a, b = model.ar_logits(x, x_lens, y, y_lens), model.ar_logits(x, x_lens, y2, y_lens)
    first_changed = t0 + int(bos)  # AR input position holding frame t0
    torch.testing.assert_close(a[:, :first_changed], b[:, :first_changed], rtol=0, atol=0)
    assert (a[:, first_changed] - b[:, first_changed]).abs().max() > 1e-3


@pytest.mark.parametrize("name", ["VALL-E", "VALL-F"])
def test_padding_never_leaks_into_real_positions(name: str) -> None:
    """A padded row gives the same logits as the same row alone; garbage in padded frames changes nothing."""
    config = debug_config(model_name=name, prepend_bos=True)
    model = randomize_(build_model(config))
    x, x_lens, y, y_lens = make_batch(config, [9, 5], [14, 8])
    y_noisy, x_noisy = y.clone(), x.clone()
    y_noisy[1, 8:] = 999
    x_noisy[1, 5:] = 77
    with torch.no_grad():
        batch_ar = model.ar_logits(x_noisy, x_lens, y_noisy, y_lens)
        alone_ar = model.ar_logits(x[1:, :5], x_lens[1:], y[1:, :8], y_lens[1:])
        torch.testing.assert_close(batch_ar[1, :9], alone_ar[0], atol=1e-5, rtol=1e-5)
        batch_nar = model.nar_logits(x_noisy, x_lens, y_noisy, y_lens, stage=3, prefix_len=2)
        alone_nar = model.nar_logits(x[1:, :5], x_lens[1:], y[1:, :8], y_lens[1:], stage=3, prefix_len=2)
        torch.testing.assert_close(batch_nar[1, :6], alone_nar[0], atol=1e-5, rtol=1e-5)


def test_nar_stage_conditioning_and_codebook_inputs() -> None:
    """Stage s sees codebooks < s only: changing codebook s (its target) or above leaves its logits unchanged."""
    config = debug_config(prefix_mode=PrefixMode.NONE)
    model = randomize_(build_model(config))
    x, x_lens, y, y_lens = make_batch(config, [6], [10])
    y2 = y.clone()
    y2[..., 3:] = (y2[..., 3:] + 5) % 1024
    with torch.no_grad():
        for stage in (1, 2, 3):
            torch.testing.assert_close(model.nar_logits(x, x_lens, y, y_lens, stage), model.nar_logits(x, x_lens, y2, y_lens, stage))
        assert not torch.allclose(model.nar_logits(x, x_lens, y, y_lens, 4), model.nar_logits(x, x_lens, y2, y_lens, 4))
        assert not torch.allclose(model.nar_logits(x, x_lens, y, y_lens, 2), model.nar_logits(x, x_lens, y, y_lens, 3))


@pytest.mark.parametrize(
    "bad,match",
    [
        (lambda x, xl, y, yl: (x[0], xl, y, yl), "text must be"),
        (lambda x, xl, y, yl: (x + 600, xl, y, yl), "text ids"),
        (lambda x, xl, y, yl: (x, xl * 0, y, yl), "x_lens"),
        (lambda x, xl, y, yl: (x, xl, y[..., :3], yl), "codebooks"),
        (lambda x, xl, y, yl: (x, xl, y + 1024, yl), "audio codes"),
        (lambda x, xl, y, yl: (x, xl, y, yl + 5), "y_lens"),
    ],
)
def test_bad_inputs_raise_one_clear_error(bad, match: str) -> None:
    config = debug_config()
    model = build_model(config).eval()
    args = bad(*make_batch(config, [6, 4], [8, 5]))
    with pytest.raises(InvalidInputError, match=match):
        model.ar_logits(*args)


def test_bad_options_raise() -> None:
    with pytest.raises(InvalidInputError, match="prefix_mode"):
        ModelConfig(prefix_mode=3)
    with pytest.raises(InvalidInputError, match="divisible"):
        ModelConfig(decoder_dim=30, nhead=4)
    with pytest.raises(InvalidInputError, match="model_name"):
        ModelConfig(model_name="Transformer")
    model = build_model(debug_config())
    x, x_lens, y, y_lens = make_batch(model.config, [5], [6])
    with pytest.raises(InvalidInputError, match="stage"):
        model.nar_logits(x, x_lens, y, y_lens, stage=8)
    with pytest.raises(InvalidInputError, match="prefix_len"):
        model.nar_logits(x, x_lens, y, y_lens, stage=1, prefix_len=6)
    with pytest.raises(InvalidInputError, match="selects nothing"):
        compute_losses(build_model(debug_config(num_quantizers=1)), x, x_lens, y, y_lens, train_stage=TrainStage.NAR)


def test_attention_dropout_is_its_own_setting_and_changes_no_weight() -> None:
    from valle.models.attention import MultiHeadAttention

    torch.manual_seed(0)
    default = build_model(debug_config())
    torch.manual_seed(0)
    no_attn = build_model(debug_config(attention_dropout=0.0))
    assert {m.dropout for m in default.modules() if isinstance(m, MultiHeadAttention)} == {0.1}
    assert {m.dropout for m in no_attn.modules() if isinstance(m, MultiHeadAttention)} == {0.0}
    drops = [[m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] for model in (default, no_attn)]
    assert drops[0] == drops[1] and 0.1 in drops[1]  # the other dropouts stay
    sd_a, sd_b = default.state_dict(), no_attn.state_dict()
    assert sd_a.keys() == sd_b.keys() and all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a)
    assert ModelConfig.from_dict(no_attn.config.to_dict()) == no_attn.config
    assert ModelConfig.from_dict({"decoder_dim": 64, "nhead": 4}).attention_dropout is None  # older checkpoints
    with pytest.raises(InvalidInputError, match="attention_dropout"):
        ModelConfig(attention_dropout=1.0)


def test_float32_attention_under_autocast_matches_float32_and_leaves_the_rest_low_precision() -> None:
    """`use_float32_attention` (valle train --fp32-attention): the attention blocks compute in float32 inside a bf16
    autocast region; without it they compute in bf16.  Weights and the state dict are unchanged."""
    from valle.models.attention import MultiHeadAttention, use_float32_attention

    torch.manual_seed(0)
    block = MultiHeadAttention(32, 4, 0.0).eval()
    x = torch.randn(2, 50, 32)
    mask = torch.ones(50, 50, dtype=torch.bool).tril()
    memory = torch.randn(2, 7, 32)
    cross = MultiHeadAttention(32, 4, 0.0, cross=True).eval()
    with torch.no_grad():
        exact, exact_cross = block(x, mask=mask), cross(x, memory=memory)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = block(x, mask=mask)
            assert use_float32_attention(torch.nn.ModuleList([block, cross])) == 2
            high, high_cross = block(x, mask=mask), cross(x, memory=memory)
            ffn = torch.nn.Linear(32, 32)(high)  # outside the attention blocks autocast still applies
    assert low.dtype == torch.bfloat16 and (low.float() - exact).abs().max() > 1e-3
    assert high.dtype == torch.float32 and torch.allclose(high, exact, atol=1e-6)
    assert torch.allclose(high_cross, exact_cross, atol=1e-6) and ffn.dtype == torch.bfloat16
    assert "float32_under_autocast" not in "".join(block.state_dict())
    use_float32_attention(block, False)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert block(x, mask=mask).dtype == torch.bfloat16
