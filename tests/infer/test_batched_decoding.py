"""Batched AR + NAR decoding: every row gets exactly the codes it gets when decoded alone."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from tests.models.conftest import make_batch, randomize_
from valle.models import PrefixMode, build_model, debug_config, load_checkpoint
from valle.models.generate import _decode_nar, generate_batch

VARIANTS = {
    "valle": {},
    "valle_bos_postnorm_prenet": {"prepend_bos": True, "norm_first": False, "add_prenet": True},
    "vallf": {"model_name": "VALL-F"},
    "vallf_bos_prenet": {"model_name": "VALL-F", "prepend_bos": True, "add_prenet": True},
    "mode0": {"prefix_mode": PrefixMode.NONE},
    "mode4": {"prefix_mode": PrefixMode.OTHER},
}


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Model initialisation draws from the global RNG: start every test from the same state."""
    torch.manual_seed(0)


def _items(config, seed: int = 1):
    """Three rows with different text and prompt lengths, padded like the collaters do."""
    x, x_lens, y, _ = make_batch(config, [11, 7, 9], [14, 14, 14], seed=seed)
    prompt_lens = torch.tensor([9, 4, 6])
    prompts = y.clone()
    for i, p in enumerate(prompt_lens.tolist()):
        prompts[i, p:] = 0
    enroll = torch.tensor([5, 3, 4])
    return x, x_lens, prompts[:, :9], prompt_lens, enroll


def _alone(model, x, x_lens, prompts, prompt_lens, enroll, i, **options):
    s, p = int(x_lens[i]), int(prompt_lens[i])
    return model.generate(x[i : i + 1, :s], x_lens[i : i + 1], prompts[i : i + 1, :p], enroll[i : i + 1], **options)[0]


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("use_cache", [True, False], ids=["cached", "uncached"])
def test_batch_rows_equal_decoding_alone(name: str, use_cache: bool) -> None:
    model = randomize_(build_model(debug_config(**VARIANTS[name])), seed=2)
    x, x_lens, prompts, prompt_lens, enroll = _items(model.config)
    caps = [12, 25, 18]  # rows finish at different steps
    batch = model.generate_batch(
        x, x_lens, prompts, prompt_lens, enroll, top_k=1, max_new_frames=caps, use_cache=use_cache
    )
    for i in range(3):
        alone = _alone(model, x, x_lens, prompts, prompt_lens, enroll, i, top_k=1, max_new_frames=caps[i])
        assert torch.equal(batch[i], alone), f"row {i} differs"
    assert len({t.shape[0] for t in batch}) > 1  # the rows really ended at different steps


def test_per_row_eos_ends_rows_independently() -> None:
    """A row that chooses EOS early stops there while the others run on to their length cap."""
    model = randomize_(build_model(debug_config()), seed=3)
    with torch.no_grad():
        model.ar_predict_layer.weight[model.config.eos_id] *= 2.0  # EOS wins for some rows only
    x, x_lens, prompts, prompt_lens, enroll = _items(model.config, seed=4)
    batch = model.generate_batch(x, x_lens, prompts, prompt_lens, top_k=1, max_new_frames=60)
    lengths = [t.shape[0] for t in batch]
    for i in range(3):
        assert torch.equal(
            batch[i], _alone(model, x, x_lens, prompts, prompt_lens, enroll, i, top_k=1, max_new_frames=60)
        )
    assert min(lengths) < 60 == max(lengths)  # one row ended by its own EOS, another ran to the cap


def test_reference_checkpoint_cases_batched_match_reference_codes(reference_dir: Path) -> None:
    """The reference's two greedy cases (122 and 193 frames), decoded as one padded batch."""
    model = load_checkpoint(reference_dir / "lifeiteng_ckpt/epoch-1.pt")
    o = torch.load(reference_dir / "lifeiteng_ckpt/reference_outputs.pt", weights_only=True)
    cases = ["eos", "length_cap"]
    xs = [o[f"infer_{c}_x"][0] for c in cases]
    x = torch.nn.utils.rnn.pad_sequence(xs, batch_first=True)
    x_lens = torch.cat([o[f"infer_{c}_x_lens"] for c in cases])
    prompts = torch.cat([o[f"infer_{c}_prompt"] for c in cases])
    out = model.generate_batch(x, x_lens, prompts, top_k=1)
    for codes, case in zip(out, cases):
        assert torch.equal(codes, o[f"infer_{case}_codes"][0]), case


def test_batched_nar_equals_per_row_nar() -> None:
    model = randomize_(build_model(debug_config(prefix_mode=PrefixMode.OTHER)), seed=5)
    x, x_lens, prompts, prompt_lens, enroll = _items(model.config)
    g = torch.Generator().manual_seed(0)
    gen_lens = torch.tensor([5, 8, 3])
    generated = torch.randint(0, 1024, (3, 8), generator=g)
    with torch.no_grad():
        batch = _decode_nar(model, x, x_lens, prompts, generated, enroll, prompt_lens, gen_lens)
        for i in range(3):
            s, p, n = int(x_lens[i]), int(prompt_lens[i]), int(gen_lens[i])
            alone = _decode_nar(model, x[i : i + 1, :s], x_lens[i : i + 1], prompts[i : i + 1, :p],
                                generated[i : i + 1, :n], enroll[i : i + 1])  # fmt: skip
            assert torch.equal(batch[i, :n], alone[0])
            assert not batch[i, n:].any()  # padding frames are zeroed


def test_eos_and_cap_warnings_name_the_item(caplog: pytest.LogCaptureFixture) -> None:
    model = randomize_(build_model(debug_config()), seed=6)
    x, x_lens, prompts, prompt_lens, _ = _items(model.config)
    with caplog.at_level(logging.WARNING):
        generate_batch(model, x, x_lens, prompts, prompt_lens, top_k=1, max_new_frames=3, names=["a", "bb", "ccc"])
    assert "ccc: no EOS after 3 frames" in caplog.text and "a: no EOS" in caplog.text


def test_empty_prompt_row_needs_bos() -> None:
    model = build_model(debug_config()).eval()
    x, x_lens, prompts, _, _ = _items(model.config)
    from valle.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="prompt is empty"):
        generate_batch(model, x, x_lens, prompts, torch.tensor([3, 0, 2]), top_k=1, max_new_frames=2)
    bos = build_model(debug_config(prepend_bos=True)).eval()
    out = generate_batch(bos, x, x_lens, prompts, torch.tensor([3, 0, 2]), top_k=1, max_new_frames=2)
    assert [t.shape for t in out] == [(2, 8)] * 3


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="oneDNN not built in")
def test_packed_linears_match_plain_and_follow_weight_changes() -> None:
    from valle.models.generate import _PackedLinears, packed_linears

    model = randomize_(build_model(debug_config()))
    layer = model.ar_decoder.layers[0]
    x = torch.randn(4, 1, 32)
    assert not isinstance(packed_linears(model, 1), _PackedLinears)  # batch 1 keeps MKL's GEMV
    with torch.no_grad():
        plain = layer.linear1(x)
        with packed_linears(model, 4):
            packed = layer.linear1(x)
            whole = layer.linear1(torch.randn(4, 3, 32))  # several positions per row: not redirected
        torch.testing.assert_close(packed, plain, atol=1e-5, rtol=1e-5)
        assert whole.shape == (4, 3, 128)
        layer.linear1.weight.mul_(2.0)  # a changed weight must be packed again
        with packed_linears(model, 4):
            doubled = layer.linear1(x)
        torch.testing.assert_close(doubled - layer.linear1.bias, 2 * (plain - layer.linear1.bias), atol=1e-5, rtol=1e-5)
        mode = packed_linears(model, 4)  # the redirection really happens: swap in packed zeros
        mode.packed[id(layer.linear1.weight)] = torch.ops.mkldnn._reorder_linear_weight(torch.zeros(128, 32), 4)
        with mode:
            assert torch.equal(layer.linear1(x), layer.linear1.bias.expand(4, 1, 128))
