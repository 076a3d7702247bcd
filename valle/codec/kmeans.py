"""Residual k-means: fit Q codebooks one after another, each on what the previous ones left over.

Why residual: stage q quantizes the error of stages < q, so decoding with the first n codebooks gives a
coarse-to-fine approximation - the property VALL-E's AR (codebook 1) / NAR (codebooks 2..8) split needs.

Dimension legend: N vectors, D feature dim, K codebook entries, Q codebooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor

from valle.errors import InvalidInputError

logger = logging.getLogger(__name__)

KPP_POOL = 8  # k-means++ seeds from at most 8 * K random vectors (1024 entries: 8192 vectors, ~3 s on CPU)
CHUNK = 8192  # vectors per distance block: bounds memory at CHUNK * K floats


def nearest(x: Tensor, centroids: Tensor) -> tuple[Tensor, Tensor]:
    """Index of the nearest centroid of each vector, and its squared distance.

    Args:
        x: Tensor[N, D].
        centroids: Tensor[K, D].

    Returns:
        (LongTensor[N], Tensor[N]).  Ties go to the lowest index (torch.min's rule), so results do not
        depend on batch composition.
    """
    c_sq = centroids.square().sum(dim=1)  # [K]
    idx, dist = [], []
    for start in range(0, x.shape[0], CHUNK):
        xb = x[start : start + CHUNK]  # [n, D]
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; ||x||^2 does not change the argmin, add it afterwards.
        d = torch.addmm(c_sq[None, :], xb, centroids.T, alpha=-2.0)  # [n, K], fused: ~2x faster than separate ops
        best, arg = d.min(dim=1)
        idx.append(arg)
        dist.append(torch.clamp(best + xb.square().sum(dim=1), min=0.0))
    return torch.cat(idx), torch.cat(dist)


def fit_kmeans(
    x: Tensor,
    k: int,
    iterations: int = 30,
    generator: torch.Generator | None = None,
    on_iteration: Callable[[], None] | None = None,
) -> Tensor:
    """Lloyd's k-means with k-means++ init and dead-centroid reseeding.

    k-means++ (Arthur & Vassilvitskii 2007) spreads the initial centroids, which avoids the local
    minima where two centroids share one cluster.  After each assignment, a centroid that won no
    vector is moved onto one of the vectors with the largest error (otherwise 1024-entry codebooks on
    small data keep unused entries and waste bits).

    Args:
        x: Tensor[N, D] with N >= k.
        k: number of centroids.
        iterations: Lloyd steps.
        generator: CPU RNG for init and reseeding (reproducible fits).
        on_iteration: called after each step (progress bars).

    Returns:
        Tensor[K, D] centroids (same device and dtype as x).
    """
    n = x.shape[0]
    if n < k:
        raise InvalidInputError(f"k-means needs at least {k} frames for {k} entries, got {n}; use more audio")
    centroids = kmeans_plus_plus(x, k, generator)  # [K, D]
    for _ in range(iterations):
        assign, dist = nearest(x, centroids)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)  # [K, D]
        counts = torch.bincount(assign, minlength=k).to(x.dtype)  # [K]
        alive = counts > 0
        centroids[alive] = sums[alive] / counts[alive, None]
        dead = int((~alive).sum())
        if dead:
            # Reseed on a random subset of the worst-served vectors (a spread, not the same outlier).
            worst = torch.topk(dist, min(n, 4 * dead)).indices  # [4 * dead]
            pick = torch.randperm(worst.numel(), generator=generator)[:dead].to(x.device)
            centroids[~alive] = x[worst[pick]]
        if on_iteration is not None:
            on_iteration()
    return centroids


def kmeans_plus_plus(x: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """k-means++ seeding: each next centroid is drawn with probability proportional to its squared
    distance from the nearest centroid chosen so far.  Returns Tensor[K, D].

    Seeding is sequential (K passes), so it runs on a random subset of at most `KPP_POOL * K` vectors:
    the spread it buys does not need every frame, and Lloyd's steps then use all of them.
    """
    if x.shape[0] > KPP_POOL * k:
        x = x[torch.randperm(x.shape[0], generator=generator)[: KPP_POOL * k].to(x.device)]
    n = x.shape[0]
    first = int(torch.randint(n, (1,), generator=generator))
    chosen = [first]
    best = (x - x[first]).square().sum(dim=1)  # [N] squared distance to the nearest chosen centroid
    for _ in range(1, k):
        weights = best.double().cpu()
        if float(weights.sum()) <= 0.0:  # fewer distinct vectors than k: any vector will do
            weights = torch.ones(n, dtype=torch.float64)
        nxt = int(torch.multinomial(weights, 1, generator=generator))
        chosen.append(nxt)
        best = torch.minimum(best, (x - x[nxt]).square().sum(dim=1))
    return x[torch.tensor(chosen, device=x.device)].clone()


def fit_residual_kmeans(
    x: Tensor,
    num_codebooks: int,
    codebook_size: int,
    iterations: int = 30,
    seed: int = 0,
    on_iteration: Callable[[], None] | None = None,
) -> Tensor:
    """Fit `num_codebooks` codebooks by residual k-means.

    Args:
        x: Tensor[N, D] training vectors (already normalised).
        num_codebooks: Q.
        codebook_size: K.
        iterations: Lloyd steps per codebook.
        seed: RNG seed (same data + seed = same codebooks).
        on_iteration: progress callback, called Q * iterations times.

    Returns:
        Tensor[Q, K, D].
    """
    generator = torch.Generator().manual_seed(seed)
    residual = x.clone()
    books = []
    for q in range(num_codebooks):
        book = fit_kmeans(residual, codebook_size, iterations, generator, on_iteration)
        idx, dist = nearest(residual, book)
        residual -= book[idx]
        used = int(torch.unique(idx).numel())
        logger.info("codebook %d: %d/%d entries used, mean squared residual %.4f", q + 1, used, codebook_size,
                    float(dist.mean()) / x.shape[1])
        books.append(book)
    return torch.stack(books)  # [Q, K, D]


def quantize(x: Tensor, codebooks: Tensor) -> Tensor:
    """Residual assignment: LongTensor[Q, N] codes for Tensor[N, D] vectors and codebooks [Q, K, D]."""
    residual = x.clone()
    codes = []
    for book in codebooks:
        idx, _ = nearest(residual, book)
        residual -= book[idx]
        codes.append(idx)
    return torch.stack(codes)  # [Q, N]


def dequantize(codes: Tensor, codebooks: Tensor) -> Tensor:
    """Sum of the chosen entries of the first n codebooks: codes [n, N] -> Tensor[N, D]."""
    out = torch.zeros(codes.shape[1], codebooks.shape[2], dtype=codebooks.dtype, device=codebooks.device)
    for q in range(codes.shape[0]):
        out += codebooks[q][codes[q]]
    return out
