"""CoSS weight scores: one trainable score per item, multiplied into its features.

Liu, Zhao, Geißler, Zhou, Suh, Lukowicz, *CoSS: Co-optimizing Sensor and Sampling Rate for
Data-Efficient AI in Human Activity Recognition*, arXiv:2401.05426 (ESWA 2025). Each sensor
modality and each sampling-rate branch gets a trainable "weight score" that scales its features
during ordinary training; after training the scores rank the items and the model is pruned to a
budget and fine-tuned.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from selectkit.selection.base import Selector, SelectionContext
from selectkit.selection.registry import register_selector
from selectkit.validation import check_choice, check_positive

__all__ = ["WeightScores"]


@register_selector("weight_scores")
class WeightScores(Selector):
    """Trainable per-item weight scores (CoSS).

    Shapes: input ``(B, ..., N, ...)`` with items on ``dim``; scores ``(N,)``.

    * training: every item is multiplied by its weight ``w`` (soft, all items kept), so the
      scores learn how much each item contributes;
    * eval: the top-``k`` items (or the greedy best under ``cost_budget``) keep their weight, the
      rest are zeroed (``reduction="mask"``) or dropped (``reduction="gather"``).

    Args:
        activation: ``"softmax"`` -- ``w = N * softmax(theta)``: items compete for a fixed total
            weight, 1 each at initialisation, so the ranking is meaningful without a penalty;
            ``"identity"`` -- ``w = theta`` (initialised to 1), ranked by ``|w|``, usually with
            ``sparsity="l1"``.
        sparsity: ``None``, ``"l1"`` (mean ``|w|``) or ``"entropy"`` (normalised entropy of
            ``|w| / sum |w|``, pushes the mass onto few items).
        sparsity_weight: multiplier of the sparsity penalty in :meth:`regularization`.
        k, keep_ratio, cost_budget, costs, dim, reduction: see :class:`Selector`. With no
            budget every item is kept at eval.
    """

    supports_cost_budget = True
    budget_required = False

    def __init__(
        self,
        num_items: int,
        *,
        k: int | None = None,
        keep_ratio: float | None = None,
        dim: int = 1,
        costs: Tensor | None = None,
        cost_budget: float | None = None,
        reduction: str = "mask",
        activation: str = "softmax",
        sparsity: str | None = None,
        sparsity_weight: float = 0.0,
    ) -> None:
        super().__init__(
            num_items, k=k, keep_ratio=keep_ratio, dim=dim, costs=costs, cost_budget=cost_budget, reduction=reduction
        )
        self.activation = check_choice(activation, "activation", ("softmax", "identity"))
        self.sparsity = check_choice(sparsity, "sparsity", (None, "l1", "entropy"))
        self.sparsity_weight = check_positive(sparsity_weight, "sparsity_weight", allow_zero=True)
        init = 0.0 if activation == "softmax" else 1.0
        self.theta = nn.Parameter(torch.full((num_items,), init))

    def weights(self) -> Tensor:
        """Effective multiplicative weights ``(N,)`` (differentiable)."""
        if self.activation == "softmax":
            return self.num_items * torch.softmax(self.theta, dim=0)
        return self.theta

    def score(self, x: Tensor | None, ctx: SelectionContext | None = None) -> Tensor:
        # The magnitude is the importance: a negative weight can be absorbed by the next layer.
        return self.weights().abs()

    def relax(self, scores: Tensor, mask: Tensor) -> Tensor:
        return self.weights()

    def eval_weights(self, scores: Tensor, mask: Tensor) -> Tensor:
        return self.weights() * mask

    def regularization(self) -> Tensor:
        if self.sparsity is None or self.sparsity_weight == 0.0:
            return self.theta.new_zeros(())
        w = self.weights().abs()
        if self.sparsity == "l1":
            penalty = w.mean()
        else:
            p = w / w.sum().clamp_min(1e-12)
            penalty = -(p * torch.log(p.clamp_min(1e-12))).sum() / math.log(self.num_items) if self.num_items > 1 else w.sum() * 0
        return self.sparsity_weight * penalty
