"""Training outputs: overfitting one batch, padding handling, stage selection, the random NAR draws."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.models.conftest import make_batch, randomize_
from valle.errors import InvalidInputError
from valle.models import PrefixMode, TrainStage, build_model, compute_losses, debug_config
from valle.models.losses import self_fed_inputs
from valle.models.masks import lengths_to_valid


def _eval_loss(model, batch) -> float:
    """Mean over all 7 NAR stages of the BOTH loss, fixed prompt: a deterministic training objective."""
    model.eval()
    with torch.no_grad():
        losses = [compute_losses(model, *batch, nar_stage=s, prefix_len=6).loss.item() for s in range(1, 8)]
    model.train()
    return sum(losses) / len(losses)


def test_tiny_model_overfits_one_batch() -> None:
    torch.manual_seed(0)
    model = build_model(debug_config(dropout=0.0))
    batch = make_batch(model.config, [10, 7], [30, 22])
    before = _eval_loss(model, batch)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):  # ~4 s on one core
        out = model(*batch, generator=g)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
    after = _eval_loss(model, batch)
    assert after <= 0.1 * before, f"loss only went from {before:.3f} to {after:.3f}"
    model.eval()
    with torch.no_grad():
        final = compute_losses(model, *batch, nar_stage=4, prefix_len=6)
    assert final.ar_accuracy > 0.95 and final.nar_accuracy > 0.95


@pytest.mark.parametrize("bos", [False, True])
def test_ar_loss_counts_real_frames_and_one_eos_only(bos: bool) -> None:
    config = debug_config(prepend_bos=bos)
    model = randomize_(build_model(config))
    x, x_lens, y, y_lens = make_batch(config, [8, 6], [15, 9])
    with torch.no_grad():
        out = compute_losses(model, x, x_lens, y, y_lens, train_stage=TrainStage.AR)
        logits = model.ar_logits(x, x_lens, y, y_lens)
    codes, valid = model.clean_codes(y, y_lens)
    _, targets, real = model.ar_io(codes, valid)
    assert out.ar_tokens == int(real.sum()) == 15 + 9 + 2 * bos
    # Each real row ends with exactly one EOS target; padded positions are not counted.
    for b, n in enumerate(y_lens.tolist()):
        row = targets[b][real[b]]
        assert int((row == config.eos_id).sum()) == 1 and int(row[-1]) == config.eos_id and len(row) == n + bos
    expected = F.cross_entropy(logits[real], targets[real], reduction="sum")
    torch.testing.assert_close(out.ar_loss, expected)
    assert out.nar_loss is None and out.nar_stage == 0
    # Garbage in padded frames changes nothing.
    y2 = y.clone()
    y2[1, 9:] = 512
    with torch.no_grad():
        assert torch.equal(compute_losses(model, x, x_lens, y2, y_lens, train_stage=TrainStage.AR).ar_loss, out.ar_loss)


def test_train_stage_selects_which_half_learns() -> None:
    model = build_model(debug_config())
    batch = make_batch(model.config, [7, 5], [12, 10])
    for stage, learns in ((TrainStage.AR, "ar_"), (TrainStage.NAR, "nar_")):
        model.zero_grad(set_to_none=True)
        out = compute_losses(model, *batch, train_stage=stage, generator=torch.Generator().manual_seed(1))
        out.loss.backward()
        with_grad = {n.split(".")[0] for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
        assert with_grad and all(n.startswith(learns) for n in with_grad), with_grad
        assert (out.ar_loss is None) == (stage == TrainStage.NAR) and (out.nar_loss is None) == (stage == TrainStage.AR)
    both = compute_losses(model, *batch, train_stage=0, nar_stage=2, prefix_len=3)  # reference spelling accepted
    torch.testing.assert_close(both.loss, (both.ar_loss / both.ar_tokens + both.nar_loss / both.nar_tokens) / 2)


def test_random_draws_follow_the_reference_ranges_and_the_generator() -> None:
    model = build_model(debug_config(prefix_mode=PrefixMode.START)).eval()
    batch = make_batch(model.config, [7, 5], [40, 33])
    draws = set()
    for seed in range(30):
        with torch.no_grad():
            out = compute_losses(model, *batch, train_stage=TrainStage.NAR, generator=torch.Generator().manual_seed(seed))
        assert 1 <= out.nar_stage <= 7 and 8 <= out.prefix_len < 16  # [T_min/4, T_min/2) with T_min = 33
        assert out.nar_tokens == 40 + 33 - 2 * out.prefix_len
        draws.add((out.nar_stage, out.prefix_len))
    assert len(draws) > 10
    again = [compute_losses(model, *batch, train_stage=2, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert (again[0].nar_stage, again[0].prefix_len) == (again[1].nar_stage, again[1].prefix_len)
    torch.testing.assert_close(again[0].nar_loss, again[1].nar_loss)


def test_prefix_mode_random_ignores_the_copied_segment() -> None:
    model = randomize_(build_model(debug_config(prefix_mode=PrefixMode.RANDOM)))
    batch = make_batch(model.config, [7, 5], [40, 33])
    with torch.no_grad():
        out = compute_losses(model, *batch, train_stage=TrainStage.NAR, generator=torch.Generator().manual_seed(0))
    assert out.prefix_len == 8  # a quarter of the shortest utterance
    assert out.nar_tokens == 40 + 33 - 2 * 8  # the prompt's own frames are not targets


def test_prefix_mode_other_needs_a_prompt() -> None:
    model = build_model(debug_config(prefix_mode=PrefixMode.OTHER))
    x, x_lens, y, y_lens = make_batch(model.config, [7, 5], [20, 14])
    with pytest.raises(InvalidInputError, match="prompt"):
        compute_losses(model, x, x_lens, y, y_lens, train_stage=TrainStage.NAR)
    prompt, prompt_lens = y[:, :6].flip(0), torch.tensor([6, 4])
    out = compute_losses(model, x, x_lens, y, y_lens, prompt=prompt, prompt_lens=prompt_lens, nar_stage=5)
    assert out.prefix_len == 6 and out.nar_tokens == 20 + 14 and torch.isfinite(out.loss)
    # Padded prompt frames are masked: their content does not matter.
    prompt2 = prompt.clone()
    prompt2[1, 4:] = 3
    with torch.no_grad():
        model.eval()
        a = model.nar_logits(x, x_lens, y, y_lens, 5, prompt=prompt, prompt_lens=prompt_lens)
        b = model.nar_logits(x, x_lens, y, y_lens, 5, prompt=prompt2, prompt_lens=prompt_lens)
    torch.testing.assert_close(a, b)


def _ar_setup(bos: bool = False):
    config = debug_config(prepend_bos=bos)
    model = randomize_(build_model(config))
    x, x_lens, y, y_lens = make_batch(config, [8, 6], [40, 25])
    codes, valid = model.clean_codes(y, y_lens)
    inputs, _, real = model.ar_io(codes, valid)
    text = model.embed_ar_text(x)
    return model, text, lengths_to_valid(x_lens, x.shape[1]), inputs, real


@pytest.mark.parametrize("bos", [False, True])
def test_scheduled_sampling_swaps_real_inputs_after_the_first_for_drawn_codes(bos: bool) -> None:
    model, text, text_valid, inputs, real = _ar_setup(bos)
    forced = 7  # make every draw this code (EOS is even likelier, and must still never be drawn)
    head = torch.nn.Linear(model.config.decoder_dim, model.config.num_audio_tokens + 1)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(-30.0)
        head.bias[forced] = 30.0
        head.bias[model.config.eos_id] = 60.0
    model.ar_predict_layer = head
    out = self_fed_inputs(model, text, text_valid, inputs, real, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(out[:, 0], inputs[:, 0])  # the first frame (or BOS) stays
    swapped = real.clone()
    swapped[:, 0] = False
    assert bool((out[swapped] == forced).all())
    assert torch.equal(out[~swapped], inputs[~swapped])  # padding (EOS ids) untouched
    assert torch.equal(self_fed_inputs(model, text, text_valid, inputs, real, 0.0, None), inputs)
    # About `share` of the swappable inputs change; the same generator seed gives the same swaps.
    half = [self_fed_inputs(model, text, text_valid, inputs, real, 0.5, torch.Generator().manual_seed(s))
            for s in (1, 1, 2)]
    rate = float(((half[0] != inputs) & swapped).sum()) / float(swapped.sum())
    assert 0.35 < rate < 0.65
    assert torch.equal(half[0], half[1]) and not torch.equal(half[0], half[2])


def test_scheduled_sampling_draws_from_the_prediction_of_the_previous_position() -> None:
    """Input t is swapped for a draw from the logits computed at t - 1 (those that predict frame t)."""
    model, text, text_valid, inputs, real = _ar_setup()
    v = model.config.num_audio_tokens

    class ByPosition(torch.nn.Module):
        """Position t predicts code (3t + 5) mod V with certainty."""

        def forward(self, h: torch.Tensor) -> torch.Tensor:
            logits = torch.full((*h.shape[:-1], v + 1), -30.0)
            t = torch.arange(h.shape[1])
            logits[:, t, (3 * t + 5) % v] = 30.0
            return logits

    model.ar_predict_layer = ByPosition()
    out = self_fed_inputs(model, text, text_valid, inputs, real, 1.0, torch.Generator().manual_seed(3))
    b, t = torch.nonzero(real[:, 1:], as_tuple=True)  # input t + 1 is swappable
    assert torch.equal(out[b, t + 1], (3 * t + 5) % v)


def test_scheduled_sampling_loss_trains_and_zero_share_is_the_plain_loss() -> None:
    model = build_model(debug_config(dropout=0.0))
    batch = make_batch(model.config, [8, 6], [20, 14])
    plain = compute_losses(model, *batch, train_stage=TrainStage.AR)
    zero = compute_losses(model, *batch, train_stage=TrainStage.AR, scheduled_sampling=0.0)
    torch.testing.assert_close(zero.loss, plain.loss)
    fed = compute_losses(model, *batch, train_stage=TrainStage.AR, scheduled_sampling=0.5,
                         generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert torch.isfinite(fed.loss) and fed.ar_tokens == plain.ar_tokens
    fed.loss.backward()
    assert model.ar_audio_embedding.word_embeddings.weight.grad is not None
