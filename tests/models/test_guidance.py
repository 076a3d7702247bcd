"""Text guidance: the empty text, text dropout in the AR loss, and guided decoding against a step-by-step reference."""

from __future__ import annotations

import pytest
import torch

from tests.models.conftest import make_batch, randomize_
from valle.errors import InvalidInputError
from valle.models import build_model, debug_config
from valle.models.config import TrainStage
from valle.models.guidance import drop_text, empty_text
from valle.models.losses import compute_losses

VARIANTS = {
    "valle": {},
    "valle_bos_prenet": {"prepend_bos": True, "add_prenet": True},
    "vallf": {"model_name": "VALL-F"},
}


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def test_empty_text_is_each_rows_bos_and_eos() -> None:
    x = torch.tensor([[1, 7, 8, 9, 2], [1, 5, 2, 0, 0]])
    empty, lens = empty_text(x, torch.tensor([5, 3]))
    assert empty.tolist() == [[1, 2, 0, 0, 0], [1, 2, 0, 0, 0]] and lens.tolist() == [2, 2]
    with pytest.raises(InvalidInputError, match="at least 2 ids"):
        empty_text(x[:, :1], torch.tensor([1, 1]))


def test_drop_text_replaces_the_drawn_rows_only() -> None:
    x, x_lens, _, _ = make_batch(debug_config(), [9, 6, 8, 7, 5, 9], [4] * 6)
    g = torch.Generator().manual_seed(1)
    dropped, lens = drop_text(x, x_lens, 0.5, g)
    drop = torch.rand(6, generator=torch.Generator().manual_seed(1)) < 0.5
    assert 0 < int(drop.sum()) < 6  # this seed drops some rows and keeps others
    empty, _ = empty_text(x, x_lens)
    for i in range(6):
        assert torch.equal(dropped[i], empty[i] if drop[i] else x[i])
        assert int(lens[i]) == (2 if drop[i] else int(x_lens[i]))


def test_text_dropout_trains_the_ar_on_the_empty_text() -> None:
    model = randomize_(build_model(debug_config()))
    x, x_lens, y, y_lens = make_batch(model.config, [9, 6, 8], [12, 10, 11])
    plain = compute_losses(model, x, x_lens, y, y_lens, train_stage=TrainStage.AR)
    off = compute_losses(model, x, x_lens, y, y_lens, train_stage=TrainStage.AR, text_dropout=0.0)
    assert torch.equal(plain.loss, off.loss)
    always = compute_losses(model, x, x_lens, y, y_lens, train_stage=TrainStage.AR, text_dropout=1.0)
    on_empty = compute_losses(model, *empty_text(x, x_lens), y, y_lens, train_stage=TrainStage.AR)
    torch.testing.assert_close(always.loss, on_empty.loss)
    assert not torch.allclose(always.loss, plain.loss)  # the text really was removed
    # the NAR keeps its text: with both stages, the NAR loss does not depend on the dropout
    both = compute_losses(model, x, x_lens, y, y_lens, nar_stage=2, prefix_len=3, text_dropout=1.0)
    nar_only = compute_losses(model, x, x_lens, y, y_lens, train_stage=TrainStage.NAR, nar_stage=2, prefix_len=3)
    torch.testing.assert_close(both.nar_loss, nar_only.nar_loss)


def _guided_reference(model, x, x_lens, prompt, weight: float, cap: int, min_frames: int = 1) -> list[int]:
    """Greedy guided decoding the slow way: full teacher-forced passes with and without the text each step."""
    q, eos = model.config.num_quantizers, model.config.eos_id
    empty, empty_lens = empty_text(x, x_lens)
    gen: list[int] = []
    while len(gen) < cap:
        frames = torch.zeros(len(gen), q, dtype=torch.long)
        frames[:, 0] = torch.tensor(gen, dtype=torch.long)
        y = torch.cat([prompt[0], frames])[None]
        y_lens = torch.tensor([y.shape[1]])
        with torch.no_grad():
            cond = model.ar_logits(x, x_lens, y, y_lens)[0, -1]
            uncond = model.ar_logits(empty[:, :2], empty_lens, y, y_lens)[0, -1]  # unpadded, as decoding embeds it
        guided = cond + weight * (cond - uncond)
        if len(gen) < min_frames:
            guided[eos] = float("-inf")
        token = int(guided.argmax())
        if token == eos:
            break
        gen.append(token)
    return gen


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("use_cache", [True, False], ids=["cached", "uncached"])
def test_guided_greedy_decoding_matches_the_step_by_step_reference(name: str, use_cache: bool) -> None:
    model = randomize_(build_model(debug_config(**VARIANTS[name])), seed=2)
    x, x_lens, y, _ = make_batch(model.config, [9], [6], seed=5)
    prompt = y[:, :6]
    for weight in (1.5, 4.0):
        codes = model.generate(x, x_lens, prompt, top_k=1, max_new_frames=14, min_new_frames=3,
                               use_cache=use_cache, guidance=weight)[0]  # fmt: skip
        expected = _guided_reference(model, x, x_lens, prompt, weight, cap=14, min_frames=3)
        assert codes[:, 0].tolist() == expected, f"weight {weight}"
    plain = model.generate(x, x_lens, prompt, top_k=1, max_new_frames=14, min_new_frames=3, use_cache=use_cache)[0]
    assert codes[:, 0].tolist() != plain[:, 0].tolist()  # weight 4 changed the codes
    zero = model.generate(x, x_lens, prompt, top_k=1, max_new_frames=14, min_new_frames=3,
                          use_cache=use_cache, guidance=0.0)[0]  # fmt: skip
    assert torch.equal(zero, plain)


def test_guided_batch_rows_equal_decoding_alone() -> None:
    model = randomize_(build_model(debug_config()), seed=2)
    x, x_lens, y, _ = make_batch(model.config, [11, 7, 9], [8, 8, 8], seed=1)
    prompt_lens = torch.tensor([8, 4, 6])
    caps = [12, 20, 16]
    batch = model.generate_batch(x, x_lens, y, prompt_lens, top_k=1, max_new_frames=caps, guidance=2.0)
    for i in range(3):
        s, p = int(x_lens[i]), int(prompt_lens[i])
        alone = model.generate(x[i : i + 1, :s], x_lens[i : i + 1], y[i : i + 1, :p], top_k=1,
                               max_new_frames=caps[i], guidance=2.0)[0]  # fmt: skip
        assert torch.equal(batch[i], alone), f"row {i} differs"


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_negative_or_non_finite_guidance_is_refused(weight: float) -> None:
    model = randomize_(build_model(debug_config()))
    x, x_lens, y, _ = make_batch(model.config, [6], [5])
    with pytest.raises(InvalidInputError, match=f"guidance must be a finite number >= 0, got {weight}"):
        model.generate(x, x_lens, y, top_k=1, guidance=weight)
