"""Tensor operations shared by every selector.

Shapes: ``scores`` are ``(..., N)`` with the items on the last axis; ``indices`` are
``(..., k)`` positions into that axis; item tensors ``x`` carry their items on axis ``dim``
(never the batch axis 0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from selectkit.validation import check_choice

__all__ = [
    "gumbel_noise",
    "logistic_noise",
    "straight_through",
    "topk_indices",
    "indices_to_mask",
    "gather_items",
    "apply_item_weights",
    "items_first",
    "pool1d",
    "greedy_cost_indices",
]

_EPS = 1e-10


def _uniform(shape, like: Tensor, generator: torch.Generator | None) -> Tensor:
    u = torch.rand(shape, dtype=like.dtype, device=like.device, generator=generator)
    # Keep log(u) and log(1 - u) finite.
    return u.clamp(_EPS, 1.0 - 1e-7)


def gumbel_noise(like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard Gumbel noise ``-log(-log U)`` with the shape, dtype and device of ``like``."""
    return -torch.log(-torch.log(_uniform(like.shape, like, generator)))


def logistic_noise(like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Logistic noise ``log U - log(1 - U)``: the difference of two Gumbels, for binary
    concrete (Gumbel-sigmoid) gates."""
    u = _uniform(like.shape, like, generator)
    return torch.log(u) - torch.log1p(-u)


class _StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hard: Tensor, soft: Tensor) -> Tensor:  # type: ignore[override]
        return hard.detach().clone()

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, Tensor]:  # type: ignore[override]
        return None, grad


def straight_through(hard: Tensor, soft: Tensor) -> Tensor:
    """Forward value of ``hard`` exactly, gradient of ``soft`` (Bengio et al. 2013).

    ``hard + soft - soft.detach()`` would round (1 + 0.8 - 0.8 != 1 in float32), so a kept item
    would not be kept exactly; a custom autograd function returns ``hard`` bit for bit.
    """
    if hard.shape != soft.shape:
        raise ValueError(f"straight_through: hard {tuple(hard.shape)} and soft {tuple(soft.shape)} differ in shape")
    return _StraightThrough.apply(hard.to(soft.dtype), soft)


def topk_indices(scores: Tensor, k: int) -> Tensor:
    """Positions of the ``k`` largest scores on the last axis, in ascending position order.

    Ties go to the lower position (stable sort), so the choice is reproducible across
    platforms. ``scores``: ``(..., N)`` -> ``(..., k)`` int64.
    """
    order = torch.sort(scores, dim=-1, descending=True, stable=True).indices
    return order[..., :k].sort(dim=-1).values


def indices_to_mask(indices: Tensor, num_items: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """``(..., k)`` positions -> ``(..., N)`` 0/1 mask. Negative positions (padding) are ignored."""
    mask = torch.zeros(*indices.shape[:-1], num_items + 1, dtype=dtype, device=indices.device)
    idx = torch.where(indices < 0, torch.full_like(indices, num_items), indices)
    mask.scatter_(-1, idx, 1.0)
    return mask[..., :num_items]


def _broadcast_shape(x: Tensor, dim: int, per_sample: bool) -> list[int]:
    shape = [1] * x.ndim
    shape[dim] = -1
    if per_sample:
        shape[0] = x.shape[0]
    return shape


def gather_items(x: Tensor, indices: Tensor, dim: int) -> Tensor:
    """Keep the items ``indices`` of ``x`` along ``dim``; the result is physically smaller.

    ``indices``: ``(k,)`` the same for every sample, or ``(B, k)`` per sample (batch axis 0).
    Returns ``x`` with ``x.shape[dim]`` replaced by ``k``, items in the order of ``indices``.
    """
    if indices.ndim == 1:
        return x.index_select(dim, indices)
    if indices.ndim != 2 or indices.shape[0] != x.shape[0]:
        raise ValueError(f"indices must be (k,) or (B={x.shape[0]}, k), got shape {tuple(indices.shape)}")
    view = [x.shape[0]] + [1] * (x.ndim - 1)
    view[dim] = indices.shape[-1]
    expand = list(x.shape)
    expand[dim] = indices.shape[-1]
    return torch.gather(x, dim, indices.reshape(view).expand(expand))


def items_first(x: Tensor, dim: int) -> Tensor:
    """``(B, ..., N, ...)`` -> ``(B, N, F)``: the items of each sample with their features flat."""
    return torch.movedim(x, dim, 1).reshape(x.shape[0], x.shape[dim], -1)


def apply_item_weights(x: Tensor, weights: Tensor, dim: int) -> Tensor:
    """Multiply each item of ``x`` (along ``dim``) by its weight.

    ``weights``: ``(N,)`` shared, or ``(B, N)`` per sample.
    """
    return x * weights.reshape(_broadcast_shape(x, dim, per_sample=weights.ndim == 2)).to(x.dtype)


def pool1d(scores: Tensor, kernel_size: int, mode: str = "avg") -> Tensor:
    """Same-length 1-D pooling over the last axis (SnapKV / PromptDistill score smoothing).

    Neighbouring tokens are kept together so that a kept token keeps its context. ``avg``
    ignores padding at the edges. ``scores``: ``(..., N)`` -> ``(..., N)``.
    """
    check_choice(mode, "pool", ("avg", "max"))
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"pool_kernel={kernel_size} must be a positive odd integer")
    if kernel_size == 1:
        return scores
    flat = scores.reshape(-1, 1, scores.shape[-1])
    pad = kernel_size // 2
    if mode == "avg":
        out = F.avg_pool1d(flat, kernel_size, stride=1, padding=pad, count_include_pad=False)
    else:
        out = F.max_pool1d(flat, kernel_size, stride=1, padding=pad)
    return out.reshape(scores.shape)


def greedy_cost_indices(scores: Tensor, costs: Tensor, budget: float) -> Tensor:
    """Greedy knapsack: take items by score per unit cost while the total stays within budget.

    Items that would overshoot are skipped and cheaper ones still considered. Zero-cost items
    with a positive score come first. ``scores``, ``costs``: ``(N,)`` with scores >= 0.
    Returns sorted positions ``(k,)``; at least one item is always kept (the best affordable).
    """
    if scores.ndim != 1:
        raise ValueError(f"cost-budget selection needs static scores of shape (N,), got {tuple(scores.shape)}")
    if (scores < 0).any():
        raise ValueError("cost-budget selection needs non-negative scores (score per cost is undefined otherwise)")
    s = scores.detach().double()
    c = costs.to(s)
    ratio = torch.where(c > 0, s / c.clamp_min(1e-300), torch.full_like(s, float("inf")))
    order = torch.sort(ratio, descending=True, stable=True).indices.tolist()
    kept, total = [], 0.0
    for i in order:
        if total + float(c[i]) <= budget * (1 + 1e-9):
            kept.append(i)
            total += float(c[i])
    if not kept:
        raise ValueError(f"cost_budget={budget} is below every item's cost; nothing can be kept")
    return torch.tensor(sorted(kept), dtype=torch.long, device=scores.device)
