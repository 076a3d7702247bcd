"""valle.codec.kmeans: Lloyd k-means with reseeding, residual quantization."""

from __future__ import annotations

import pytest
import torch

from valle.codec.kmeans import (
    dequantize,
    fit_kmeans,
    fit_residual_kmeans,
    nearest,
    quantize,
)
from valle.errors import InvalidInputError


def _blobs(k: int = 8, per: int = 50, dim: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, dim, generator=g) * 10
    points = centres.repeat_interleave(per, 0) + 0.1 * torch.randn(k * per, dim, generator=g)
    return points, centres


def test_nearest_matches_brute_force() -> None:
    g = torch.Generator().manual_seed(1)
    x, c = torch.randn(300, 5, generator=g), torch.randn(7, 5, generator=g)
    idx, dist = nearest(x, c)
    brute = torch.cdist(x, c).square()
    assert torch.equal(idx, brute.argmin(dim=1))
    assert torch.allclose(dist, brute.min(dim=1).values, atol=1e-4)


def test_kmeans_recovers_separated_clusters() -> None:
    points, centres = _blobs()
    found = fit_kmeans(points, 8, iterations=20, generator=torch.Generator().manual_seed(0))
    # every true centre has a fitted centroid within the noise level (k-means++ spreads the init)
    assert float(torch.cdist(centres, found).min(dim=1).values.max()) < 0.2


def test_kmeans_needs_enough_points() -> None:
    with pytest.raises(InvalidInputError, match="at least 16 frames"):
        fit_kmeans(torch.randn(10, 3), 16)


def test_residual_stages_reduce_error_and_round_trip() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2000, 6, generator=g)
    books = fit_residual_kmeans(x, num_codebooks=4, codebook_size=16, iterations=8, seed=0)
    assert books.shape == (4, 16, 6)
    codes = quantize(x, books)
    assert codes.shape == (4, 2000) and codes.dtype == torch.long
    errors = [float((x - dequantize(codes[:n], books)).square().mean()) for n in range(1, 5)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.5 * errors[0]
    # same data and seed -> same codebooks
    assert torch.equal(books, fit_residual_kmeans(x, 4, 16, 8, seed=0))
