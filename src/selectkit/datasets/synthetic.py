"""Seeded synthetic tasks whose correct selection is known, so tests can check recovery."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["informative_items_task", "informative_items_bayes_accuracy"]


def informative_items_task(
    num_samples: int,
    *,
    num_items: int = 10,
    informative: Sequence[int] = (2, 5),
    num_features: int = 8,
    amplitude: float = 1.0,
    noise: float = 1.0,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """Items of which only ``informative`` carry the label; each of them is needed.

    Each informative item ``j`` carries one independent bit ``b_j`` as ``(2 b_j - 1) * amplitude``
    times a fixed random unit pattern over the features, plus Gaussian noise; the label is the
    number the bits spell (``2 ** len(informative)`` classes), so no single item suffices and
    the only full answer is the informative set. Every other item is pure noise.

    Returns:
        ``x`` of shape ``(num_samples, num_items, num_features)`` float32 and ``y`` of shape
        ``(num_samples,)`` int64.
    """
    informative = list(informative)
    if not informative or len(set(informative)) != len(informative):
        raise ValueError(f"informative={informative!r} must be distinct item positions")
    if min(informative) < 0 or max(informative) >= num_items:
        raise ValueError(f"informative={informative!r} must lie in [0, num_items={num_items})")
    if num_samples < 1:
        raise ValueError(f"num_samples={num_samples!r} must be >= 1")
    g = torch.Generator().manual_seed(seed)
    patterns = torch.randn(len(informative), num_features, generator=g)
    patterns = patterns / patterns.norm(dim=-1, keepdim=True)
    bits = torch.randint(0, 2, (num_samples, len(informative)), generator=g)
    x = noise * torch.randn(num_samples, num_items, num_features, generator=g)
    for j, item in enumerate(informative):
        x[:, item] += (2 * bits[:, j : j + 1] - 1).float() * amplitude * patterns[j]
    y = (bits * (2 ** torch.arange(len(informative)))).sum(-1)
    return x, y


def informative_items_bayes_accuracy(num_informative: int, *, amplitude: float = 1.0, noise: float = 1.0) -> float:
    """The best accuracy any classifier reaches on :func:`informative_items_task`.

    Each bit is read off its own item: projected onto its unit pattern it is ``+-amplitude`` plus
    ``N(0, noise^2)``, so it is right with probability ``Phi(amplitude / noise)``; all bits must be.
    """
    return (0.5 * (1.0 + math.erf(amplitude / noise / math.sqrt(2.0)))) ** num_informative
