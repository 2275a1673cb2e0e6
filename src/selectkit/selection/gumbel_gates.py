"""Dynamic, input-conditioned selection with binary Gumbel-sigmoid gates.

Strypsteen & Bertrand, *Conditional/dynamic sensor selection in sensor networks*,
arXiv:2308.08379. A scorer looks at the current sample and opens a gate per item (sensor-network
node); gates are binary concrete samples with a straight-through estimator while training, and
a budget penalty ``ReLU(rate - target)^2`` holds the transmission rate down -- on the mean rate
over items, or on the busiest item's rate so no single node exceeds its per-node budget.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from selectkit.selection.base import Selection, SelectionContext, Selector
from selectkit.selection.ops import (
    indices_to_mask,
    items_first,
    logistic_noise,
    straight_through,
    topk_indices,
)
from selectkit.selection.registry import register_selector
from selectkit.selection.schedules import make_schedule
from selectkit.validation import check_choice, check_positive

__all__ = ["GumbelGates", "ItemStatsScorer"]


class ItemStatsScorer(nn.Module):
    """Default centralised scorer: per-item mean, std and mean-|x| -> MLP -> one logit per item.

    Input ``(B, N, F)``, output ``(B, N)``. Cheap enough to run on every sample; inject any
    module with the same shapes for something stronger (e.g. a distributed per-node scorer).
    """

    def __init__(self, num_items: int, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3 * num_items, hidden), nn.ReLU(), nn.Linear(hidden, num_items))

    def forward(self, items: Tensor) -> Tensor:
        mean = items.mean(-1)
        # std from the second moment: one pass each (aten::std is several times slower here).
        std = ((items * items).mean(-1) - mean * mean).clamp_min(0.0).sqrt()
        feats = torch.stack([mean, std, items.abs().mean(-1)], dim=-1)  # (B, N, 3)
        return self.net(feats.flatten(1))


@register_selector("gumbel_gates")
class GumbelGates(Selector):
    """Per-sample binary gates over ``N`` items with a transmission-rate budget.

    Shapes: input ``(B, ..., N, ...)``; scores = gate logits ``(B, N)``; output the input with
    closed items zeroed (``reduction="mask"``), or, with a fixed ``k``, the ``k`` open items
    gathered per sample (``"gather"``, ``(B, ..., k, ...)``).

    Budget: ``target_rate`` (fraction of items open on average) drives the training penalty.
    Given ``k`` or ``keep_ratio`` instead, the target rate is ``k / N``, every sample opens
    exactly its top-``k`` gates (Gumbel top-k in training), and the penalty -- useful with
    ``budget_mode="max"`` -- holds each item's share of the batch near ``k / N``; with only ``target_rate``, eval opens the gates whose logit is
    positive (a variable number per sample; ``selection.indices`` is then ``None``).

    Args:
        scorer: module ``(B, N, F) -> (B, N)`` logits; default :class:`ItemStatsScorer`.
            ``ctx.logits`` of shape ``(B, N)``, when given, replaces the scorer.
        budget_mode: ``"mean"`` penalises the mean rate over items, ``"max"`` the busiest item's
            rate (per-node budget, "balanced").
        penalty_weight: multiplier of ``ReLU(rate - target)^2``.
        temperature: ``(start, end)`` of the Gumbel-sigmoid temperature schedule.
    """

    input_dependent = True
    budget_required = False  # target_rate alone is a budget; checked in __init__

    def __init__(
        self,
        num_items: int,
        *,
        k: int | None = None,
        keep_ratio: float | None = None,
        target_rate: float | None = None,
        dim: int = 1,
        costs: Tensor | None = None,
        reduction: str = "mask",
        scorer: nn.Module | None = None,
        hidden: int = 32,
        budget_mode: str = "mean",
        penalty_weight: float = 10.0,
        temperature: tuple[float, float] = (1.0, 1.0),
        schedule: str = "exponential",
    ) -> None:
        if k is None and keep_ratio is None and target_rate is None:
            raise ValueError("a budget is required: give k, keep_ratio or target_rate")
        super().__init__(num_items, k=k, keep_ratio=keep_ratio, dim=dim, costs=costs, reduction=reduction)
        self.fixed_count = k is not None or keep_ratio is not None
        if target_rate is None:
            target_rate = self.num_kept() / num_items
        elif not (0.0 < float(target_rate) <= 1.0):
            raise ValueError(f"target_rate={target_rate!r} must be in (0, 1]")
        if reduction == "gather" and not self.fixed_count:
            raise ValueError("reduction='gather' needs k or keep_ratio (a fixed number of items per sample)")
        self.target_rate = float(target_rate)
        self.budget_mode = check_choice(budget_mode, "budget_mode", ("mean", "max"))
        self.penalty_weight = check_positive(penalty_weight, "penalty_weight", allow_zero=True)
        if len(temperature) != 2:
            raise ValueError(f"temperature={temperature!r} must be a (start, end) pair")
        self.temperature_schedule = make_schedule(schedule, *(check_positive(t, "temperature") for t in temperature))
        self.register_buffer("temperature", torch.tensor(float(temperature[0])))
        self.scorer = scorer if scorer is not None else ItemStatsScorer(num_items, hidden)
        self._rates: Tensor | None = None

    def anneal(self, progress: float) -> None:
        self.temperature.fill_(self.temperature_schedule(progress))

    def score(self, x: Tensor | None, ctx: SelectionContext | None = None) -> Tensor:
        if ctx is not None and ctx.logits is not None:
            logits = ctx.logits
            if x is not None and (logits.ndim != 2 or logits.shape != (x.shape[0], self.num_items)):
                raise ValueError(f"ctx.logits has shape {tuple(logits.shape)}, expected (B={x.shape[0]}, N={self.num_items})")
            return logits
        if x is None:
            raise ValueError("GumbelGates scores each sample: x is required")
        return self.scorer(items_first(x, self.dim % x.ndim))

    def choose(self, scores: Tensor) -> Tensor | None:
        return topk_indices(scores, self.num_kept()) if self.fixed_count else None

    def select(self, scores: Tensor) -> Selection:
        if not self.training:
            indices = self.choose(scores.detach())
            hard = (scores > 0).to(scores.dtype) if indices is None else indices_to_mask(indices, self.num_items, scores.dtype)
            return Selection(scores=scores, mask=hard, indices=indices, weights=hard)
        noisy = (scores + logistic_noise(scores)) / self.temperature
        soft = torch.sigmoid(noisy)
        # With a fixed count the sample is a Gumbel top-k, so training and eval give the same
        # output shape; otherwise each gate is an independent binary concrete sample.
        indices = self.choose(noisy.detach())
        hard = (soft > 0.5).to(soft.dtype) if indices is None else indices_to_mask(indices, self.num_items, soft.dtype)
        gates = straight_through(hard, soft)
        if self.fixed_count:
            # Every sample opens exactly k gates, so the mean rate is fixed; what the penalty
            # can still act on is each item's share of the batch (the busiest item, "balanced"):
            # the hard share forward, the soft gates' gradient backward.
            self._rates = gates.mean(dim=0)
        else:
            # The expected gate (noise-free probability) gives the budget penalty a smooth gradient.
            self._rates = torch.sigmoid(scores / self.temperature).mean(dim=0)
        return Selection(scores=scores, mask=hard, indices=indices, weights=gates)

    def item_rates(self) -> Tensor | None:
        """Per-item expected open rate ``(N,)`` from the last training batch."""
        return None if self._rates is None else self._rates.detach()

    def regularization(self) -> Tensor:
        if self._rates is None or self.penalty_weight == 0.0:
            return self.temperature.new_zeros(())
        rate = self._rates.mean() if self.budget_mode == "mean" else self._rates.max()
        return self.penalty_weight * torch.relu(rate - self.target_rate) ** 2
