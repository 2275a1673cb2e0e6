"""Soft selection: a softmax over N candidates and their weighted sum.

The "selection layer" of Deep3D (Xie, Girshick, Farhadi 2016) and W-net stereo, which blends
disparity-shifted candidate images with a per-pixel softmax; the gain-control gating of Nowlan
& Sejnowski's filter selection model and HanoiT's layer-wise soft selection are the same
operation over experts / layers. Differentiable everywhere; no budget beyond "one blend".
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from selectkit.selection.base import Selection, SelectionContext, Selector
from selectkit.selection.ops import indices_to_mask, items_first
from selectkit.selection.registry import register_selector
from selectkit.validation import check_positive

__all__ = ["SoftSelect"]


@register_selector("soft_select")
class SoftSelect(Selector):
    """Blend ``N`` candidates with softmax weights; the item axis is summed away.

    Shapes: input ``(B, ..., N, ...)``; output the input without axis ``dim``; scores = logits
    ``(N,)`` (learned, static) or ``(B, N)`` (from ``scorer`` or ``ctx.logits``); weights the
    softmax ``(N,)`` / ``(B, N)``; ``indices`` the argmax candidate, ``(1,)`` / ``(B, 1)``.

    Args:
        temperature: softmax temperature; low values approach a hard pick.
        scorer: optional module ``(B, N, F) -> (B, N)`` for an input-conditioned (gating)
            choice; without it the logits are free parameters.
        k: must be 1 (a blend picks one "effective" candidate) or omitted.
    """

    reductions = ("weighted_sum",)
    budget_required = False
    fixed_k = 1

    def __init__(
        self,
        num_items: int,
        *,
        k: int | None = None,
        dim: int = 1,
        costs: Tensor | None = None,
        reduction: str = "weighted_sum",
        temperature: float = 1.0,
        scorer: nn.Module | None = None,
    ) -> None:
        if k not in (None, 1):
            raise ValueError(f"k={k!r}: SoftSelect blends the candidates into one; k must be 1 or omitted")
        super().__init__(num_items, k=1, dim=dim, costs=costs, reduction=reduction)
        self.temperature = check_positive(temperature, "temperature")
        self.scorer = scorer
        self.input_dependent = scorer is not None
        self.logits = None if scorer is not None else nn.Parameter(torch.zeros(num_items))

    def score(self, x: Tensor | None, ctx: SelectionContext | None = None) -> Tensor:
        if ctx is not None and ctx.logits is not None:
            return ctx.logits
        if self.scorer is None:
            return self.logits
        if x is None:
            raise ValueError("SoftSelect with a scorer needs the input x")
        return self.scorer(items_first(x, self.dim % x.ndim))

    def select(self, scores: Tensor) -> Selection:
        indices = scores.argmax(dim=-1, keepdim=True)
        mask = indices_to_mask(indices, scores.shape[-1], dtype=scores.dtype)
        weights = torch.softmax(scores / self.temperature, dim=-1)
        return Selection(scores=scores, mask=mask, indices=indices, weights=weights)

    def reduce(self, x: Tensor, selection: Selection, dim: int) -> Tensor:
        shape = [1] * x.ndim
        shape[dim] = -1
        if selection.weights.ndim == 2:
            shape[0] = x.shape[0]
        return (x * selection.weights.reshape(shape).to(x.dtype)).sum(dim=dim)
