"""Decoding robustness (EOS at once or never), the NAR prompt handling, sampling filters, bad inputs."""

from __future__ import annotations

import logging

import pytest
import torch

from tests.models.conftest import make_batch, randomize_
from valle.errors import InvalidInputError
from valle.models import PrefixMode, build_model, debug_config, sample_top_k_top_p
from valle.models.generate import _decode_nar


def _forced_eos_model(eos_logit: float, **options):
    """A model whose AR logits are 0 for every code and `eos_logit` for EOS, whatever the input."""
    model = randomize_(build_model(debug_config(**options)))
    with torch.no_grad():
        norm = model.ar_decoder.norm
        norm.weight[0], norm.bias[0] = 0.0, 1.0  # hidden[0] == 1 at every position
        w = model.ar_predict_layer.weight
        w.zero_()
        w[model.config.eos_id, 0] = eos_logit
    return model


def _inputs(model, x_len: int = 6):
    x, x_lens, y, _ = make_batch(model.config, [x_len], [10])
    return x, x_lens, y[:, :5]


@pytest.mark.parametrize("bos", [False, True])
def test_eos_at_first_step_gives_one_frame_with_a_warning(bos: bool, caplog: pytest.LogCaptureFixture) -> None:
    model = _forced_eos_model(10.0, prepend_bos=bos)
    with caplog.at_level(logging.WARNING):
        codes = model.generate(*_inputs(model), top_k=1)
    assert codes.shape == (1, 1, 8)  # EOS suppressed once (min_new_frames=1), then accepted
    assert "EOS suppressed" in caplog.text


def test_eos_at_first_step_with_no_minimum_returns_empty(caplog: pytest.LogCaptureFixture) -> None:
    model = _forced_eos_model(10.0)
    with caplog.at_level(logging.WARNING):
        codes = model.generate(*_inputs(model), top_k=1, min_new_frames=0)
    assert codes.shape == (1, 0, 8) and codes.dtype == torch.int64
    assert "first step" in caplog.text


def test_min_new_frames_holds_off_eos() -> None:
    model = _forced_eos_model(10.0, model_name="VALL-F")
    assert model.generate(*_inputs(model), top_k=1, min_new_frames=7).shape == (1, 7, 8)


def test_a_later_eos_held_back_is_logged_as_news_not_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A minimum length holding back an EOS the model chose after a few frames is what the setting is for."""
    model = _forced_eos_model(-10.0)
    calls = {"n": 0}

    def eos_from_the_fourth_step(module, inputs, logits):
        calls["n"] += 1
        if calls["n"] >= 4:
            logits = logits.clone()
            logits[..., model.config.eos_id] = 10.0
        return logits

    model.ar_predict_layer.register_forward_hook(eos_from_the_fourth_step)
    with caplog.at_level(logging.INFO):
        codes = model.generate(*_inputs(model), top_k=1, min_new_frames=7)
    assert codes.shape == (1, 7, 8)
    held = [r for r in caplog.records if "EOS suppressed" in r.getMessage()]
    assert len(held) == 1 and held[0].levelno == logging.INFO, [(r.levelname, r.getMessage()) for r in held]
    assert "after 3 of 7 required frames" in held[0].getMessage()


@pytest.mark.parametrize("bos", [False, True])
def test_no_eos_stops_at_the_reference_length_cap(bos: bool, caplog: pytest.LogCaptureFixture) -> None:
    model = _forced_eos_model(-10.0, prepend_bos=bos)
    x, x_lens, prompt = _inputs(model, x_len=4)
    with caplog.at_level(logging.WARNING):
        codes = model.generate(x, x_lens, prompt, top_k=1)
    assert codes.shape == (1, 16 * 4 + (0 if bos else 1), 8)  # the reference's cap
    assert "length cap" in caplog.text
    assert model.generate(x, x_lens, prompt, top_k=1, max_new_frames=9).shape == (1, 9, 8)


@pytest.mark.parametrize("mode", [PrefixMode.RANDOM, PrefixMode.OTHER])
def test_prefix_modes_2_and_4_drop_the_prompt_transcript_from_the_nar(mode: PrefixMode) -> None:
    model = randomize_(build_model(debug_config(prefix_mode=mode)))
    x, x_lens, y, _ = make_batch(model.config, [12], [20])
    prompt, generated = y[:, :6], y[:, 6:, 0]
    enroll = torch.tensor([5])  # [BOS, 3 prompt-transcript ids, EOS]
    x2 = x.clone()
    x2[0, 1:4] = (x2[0, 1:4] + 1) % 500 + 3  # another prompt transcript
    stage1_logits: list[torch.Tensor] = []  # random weights barely move argmaxes; compare logits
    model.nar_predict_layers[0].register_forward_hook(lambda mod, inp, out: stage1_logits.append(out))
    with torch.no_grad():
        a = _decode_nar(model, x, x_lens, prompt, generated, enroll)
        b = _decode_nar(model, x2, x_lens, prompt, generated, enroll)
        _decode_nar(model, x, x_lens, prompt, generated, torch.tensor([3]))  # keeps more of the text
    assert a.shape == (1, 14, 8) and torch.equal(a[..., 0], generated)
    assert torch.equal(a, b) and torch.equal(stage1_logits[0], stage1_logits[1])
    assert (stage1_logits[0] - stage1_logits[2]).abs().max() > 1e-3
    with pytest.raises(InvalidInputError, match="enroll_x_lens"):
        model.generate(x, x_lens, prompt, top_k=1)


def test_prompt_codebooks_condition_the_nar_in_start_mode() -> None:
    """Prefix modes != 0 embed all codebooks of the prompt: changing prompt codebook 7 changes stage-1 output."""
    model = randomize_(build_model(debug_config(prefix_mode=PrefixMode.START)))
    x, x_lens, y, _ = make_batch(model.config, [8], [20])
    prompt, generated = y[:, :6], y[:, 6:, 0]
    prompt2 = prompt.clone()
    prompt2[..., 7] = (prompt2[..., 7] + 1) % 1024
    with torch.no_grad():
        h1 = _decode_nar(model, x, x_lens, prompt, generated, None)
        h2 = _decode_nar(model, x, x_lens, prompt2, generated, None)
    assert h1.shape == (1, 14, 8) and not torch.equal(h1, h2)


def test_sampling_filters() -> None:
    logits = torch.tensor([[0.0, 3.0, 2.0, 1.0, -1.0]]).repeat(400, 1)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(sample_top_k_top_p(logits, top_k=1), torch.full((400,), 1))
    top3 = sample_top_k_top_p(logits, top_k=3, generator=g)
    assert set(top3.tolist()) == {1, 2, 3}
    nucleus = sample_top_k_top_p(logits, top_p=0.5, generator=g)  # p(1) = 0.64 already exceeds 0.5
    assert set(nucleus.tolist()) == {1}
    cold = sample_top_k_top_p(logits, temperature=0.05, generator=g)
    assert (cold == 1).float().mean() > 0.99
    again = sample_top_k_top_p(logits, generator=torch.Generator().manual_seed(5))
    assert torch.equal(again, sample_top_k_top_p(logits, generator=torch.Generator().manual_seed(5)))
    assert set(again.tolist()) == {0, 1, 2, 3, 4}
    with pytest.raises(InvalidInputError, match="temperature"):
        sample_top_k_top_p(logits, temperature=0.0)


def test_custom_sampler_sees_the_history() -> None:
    model = randomize_(build_model(debug_config()))
    x, x_lens, prompt = _inputs(model)
    seen = []

    def pick_seven(logits: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        seen.append(history.shape[1])
        return torch.tensor([7])

    codes = model.generate(x, x_lens, prompt, sampler=pick_seven, max_new_frames=4)
    assert codes[0, :, 0].tolist() == [7, 7, 7, 7][: codes.shape[1]]
    assert seen[:2] == [5, 6]  # prompt frames, then + each generated frame


def test_bad_generate_inputs() -> None:
    model = build_model(debug_config()).eval()
    x, x_lens, y, _ = make_batch(model.config, [6, 5], [10, 9])
    with pytest.raises(InvalidInputError, match="batch 1"):
        model.generate(x, x_lens, y[:1, :4])
    with pytest.raises(InvalidInputError, match="prompt must be"):
        model.generate(x[:1], x_lens[:1], y[:1, :4, :3])
    with pytest.raises(InvalidInputError, match="empty"):
        model.generate(x[:1], x_lens[:1], y[:1, :0])
