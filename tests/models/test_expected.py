"""Expected-vector NAR decoding: its limits (argmax, uniform), batching, and the checks on its inputs."""

from __future__ import annotations

import pytest
import torch

from tests.models.conftest import make_batch, randomize_
from valle.errors import InvalidInputError
from valle.models import PrefixMode, build_model, debug_config
from valle.models.expected import ExpectedFrames
from valle.models.generate import decode_nar, generate_batch

D = 6  # width of the stand-in codec's vectors


def _setup(seed: int = 3):
    model = randomize_(build_model(debug_config(prefix_mode=PrefixMode.OTHER)), seed=seed)
    c = model.config
    x, x_lens, y, _ = make_batch(c, [11, 7, 9], [9, 9, 9], seed=1)
    prompt_lens = torch.tensor([9, 4, 6])
    g = torch.Generator().manual_seed(0)
    generated = torch.randint(0, c.num_audio_tokens, (3, 8), generator=g)
    gen_lens = torch.tensor([5, 8, 3])
    vectors = torch.randn(c.num_quantizers, c.num_audio_tokens, D, generator=g)
    args = (model, x, x_lens, y, generated, torch.tensor([5, 3, 4]), prompt_lens, gen_lens)
    return args, vectors, gen_lens


def _sum_of_vectors(vectors: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    return sum(vectors[q][codes[..., q]] for q in range(codes.shape[-1]))


@torch.no_grad()
def test_cold_limit_is_the_argmax_codes_vectors_and_padding_is_zero() -> None:
    args, vectors, gen_lens = _setup()
    codes = decode_nar(*args)  # [B, N, Q]
    frames = decode_nar(*args, expected=ExpectedFrames(vectors, 1e-6))  # [B, N, D]
    assert frames.shape == (3, 8, D) and frames.dtype == torch.float32
    for i, n in enumerate(gen_lens.tolist()):
        assert torch.allclose(frames[i, :n], _sum_of_vectors(vectors, codes[i, :n]), atol=1e-5)
        assert not frames[i, n:].any()


@torch.no_grad()
def test_hot_limit_is_each_codebooks_mean_and_a_warm_one_lies_between() -> None:
    args, vectors, gen_lens = _setup()
    codes = decode_nar(*args)
    first = vectors[0][codes[..., 0]]  # codebook 1 is the AR's code, used as it is
    hot = decode_nar(*args, expected=ExpectedFrames(vectors, 1e9))
    warm = decode_nar(*args, expected=ExpectedFrames(vectors, 1.0))
    cold = _sum_of_vectors(vectors, codes)
    uniform = first + vectors[1:].mean(dim=1).sum(dim=0)
    for i, n in enumerate(gen_lens.tolist()):
        assert torch.allclose(hot[i, :n], uniform[i, :n], atol=1e-4)
        assert not torch.allclose(warm[i, :n], cold[i, :n], atol=1e-3)
        assert not torch.allclose(warm[i, :n], uniform[i, :n], atol=1e-3)


@torch.no_grad()
def test_batch_rows_equal_rows_alone() -> None:
    args, vectors, gen_lens = _setup()
    model, x, x_lens, y, generated, enroll, prompt_lens, _ = args
    expected = ExpectedFrames(vectors, 0.5)
    batch = decode_nar(*args, expected=expected)
    for i, n in enumerate(gen_lens.tolist()):
        s, p = int(x_lens[i]), int(prompt_lens[i])
        alone = decode_nar(model, x[i : i + 1, :s], x_lens[i : i + 1], y[i : i + 1, :p], generated[i : i + 1, :n],
                           enroll[i : i + 1], expected=expected)  # fmt: skip
        assert torch.allclose(batch[i, :n], alone[0], atol=1e-4)  # padded matmuls round differently


@torch.no_grad()
def test_generate_batch_returns_frames_of_the_same_ar_draws() -> None:
    args, vectors, _ = _setup()
    model, x, x_lens, y, _, enroll, prompt_lens, _ = args
    plain = generate_batch(model, x, x_lens, y, prompt_lens, enroll, top_k=1, max_new_frames=[6, 9, 4])
    frames = generate_batch(model, x, x_lens, y, prompt_lens, enroll, top_k=1, max_new_frames=[6, 9, 4],
                            expected=ExpectedFrames(vectors, 1e-6))  # fmt: skip
    assert [f.shape for f in frames] == [(c.shape[0], D) for c in plain]
    for f, c in zip(frames, plain):
        assert torch.allclose(f, _sum_of_vectors(vectors, c), atol=1e-5)


def test_bad_vectors_and_temperatures_are_refused() -> None:
    args, vectors, _ = _setup()
    for t in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(InvalidInputError, match="NAR temperature of expected frames must be > 0"):
            ExpectedFrames(vectors, t)
    with pytest.raises(InvalidInputError, match=r"must be \[Q, K, D\]"):
        ExpectedFrames(vectors[0], 0.5)
    for bad in (vectors[:3], vectors[:, :16]):
        with pytest.raises(InvalidInputError, match="load the codec the model was trained with"):
            decode_nar(*args, expected=ExpectedFrames(bad, 0.5))
