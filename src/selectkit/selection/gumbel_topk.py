"""Static concrete (Gumbel-softmax) selection of K of N items.

Strypsteen & Bertrand, *End-to-end learnable EEG channel selection for deep neural networks
with Gumbel-softmax*, J. Neural Eng. 18 (2021), arXiv:2102.09050. ``M = K`` selection neurons
each hold logits over the ``N`` channels; in training a neuron outputs the Gumbel-softmax
mixture of the channels, with the temperature annealed (10 -> 0.1, exponential) so the mixture
becomes a one-hot pick. A penalty ``sum_c ReLU(sum_m p_mc - tau)`` with ``tau`` annealed
(3 -> 1.1) stops two neurons from picking the same channel. At eval each neuron takes its argmax.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selectkit.selection.base import Selection, SelectionContext, Selector
from selectkit.selection.ops import gather_items, gumbel_noise, indices_to_mask, straight_through
from selectkit.selection.registry import register_selector
from selectkit.selection.schedules import make_schedule
from selectkit.validation import check_positive

__all__ = ["GumbelTopK"]


@register_selector("gumbel_topk")
class GumbelTopK(Selector):
    """Learn a static choice of ``k`` items with ``k`` Gumbel-softmax selection neurons.

    Shapes: input ``(B, ..., N, ...)`` with items on ``dim``; output ``(B, ..., k, ...)`` -- slot
    ``m`` holds neuron ``m``'s (mixture of) item(s). In training ``selection.indices`` holds each
    neuron's current argmax (possibly repeated), at eval ``k`` distinct items. Scores ``(N,)``: the largest selection
    probability any neuron gives the item. ``selection.weights`` is the ``(k, N)`` mixing matrix
    (Gumbel-softmax samples in training, one-hot rows at eval).

    Eval picks each neuron's argmax; should two neurons still agree (training stopped before
    the duplicate penalty separated them), the more confident one keeps the item and the other
    takes its best free item, so exactly ``k`` distinct items are kept.

    Args:
        k: number of selection neurons = items kept (``keep_ratio`` also accepted).
        temperature: ``(start, end)`` of the Gumbel-softmax temperature schedule.
        threshold: ``(start, end)`` of the duplicate-penalty threshold ``tau``.
        schedule: ``"exponential"`` (the paper), ``"linear"``, ``"cosine"`` or ``"constant"``.
        penalty_weight: multiplier of the duplicate penalty.
        straight_through: one-hot forward with the soft gradient while training.
        init_std: std of the random initial logits (breaks the neurons' symmetry).
    """

    reductions = ("gather",)

    def __init__(
        self,
        num_items: int,
        *,
        k: int | None = None,
        keep_ratio: float | None = None,
        dim: int = 1,
        costs: Tensor | None = None,
        reduction: str = "gather",
        temperature: tuple[float, float] = (10.0, 0.1),
        threshold: tuple[float, float] = (3.0, 1.1),
        schedule: str = "exponential",
        penalty_weight: float = 1.0,
        straight_through: bool = False,
        init_std: float = 0.01,
    ) -> None:
        super().__init__(num_items, k=k, keep_ratio=keep_ratio, dim=dim, costs=costs, reduction=reduction)
        for name, pair in (("temperature", temperature), ("threshold", threshold)):
            if len(pair) != 2:
                raise ValueError(f"{name}={pair!r} must be a (start, end) pair")
            for v in pair:
                check_positive(v, name)
        self.num_neurons = self.num_kept()
        self.penalty_weight = check_positive(penalty_weight, "penalty_weight", allow_zero=True)
        self.straight_through = bool(straight_through)
        self.temperature_schedule = make_schedule(schedule, *temperature)
        self.threshold_schedule = make_schedule(schedule, *threshold)
        self.logits = nn.Parameter(torch.randn(self.num_neurons, num_items) * init_std)
        # Buffers, so a checkpoint resumes at the annealed values.
        self.register_buffer("temperature", torch.tensor(float(temperature[0])))
        self.register_buffer("threshold", torch.tensor(float(threshold[0])))

    # -- schedule -------------------------------------------------------------------------
    def anneal(self, progress: float) -> None:
        self.temperature.fill_(self.temperature_schedule(progress))
        self.threshold.fill_(self.threshold_schedule(progress))

    def probabilities(self) -> Tensor:
        """Noise-free selection distribution of each neuron at the current temperature, ``(k, N)``."""
        return torch.softmax(self.logits / self.temperature, dim=-1)

    # -- score / select / reduce ----------------------------------------------------------
    def score(self, x: Tensor | None, ctx: SelectionContext | None = None) -> Tensor:
        return self.probabilities().max(dim=0).values

    def _assign(self, probs: Tensor) -> Tensor:
        """Distinct item per neuron: the most confident (neuron, item) pairs first."""
        k, n = probs.shape
        p = probs.detach().clone()
        chosen = torch.full((k,), -1, dtype=torch.long, device=probs.device)
        for _ in range(k):
            flat = int(torch.argmax(p))
            m, c = divmod(flat, n)
            chosen[m] = c
            p[m, :] = -1.0
            p[:, c] = -1.0
        return chosen

    def select(self, scores: Tensor) -> Selection:
        probs = self.probabilities().detach()
        # Training reports each neuron's current favourite (two may still share one; the duplicate
        # penalty is pushing them apart); eval resolves such ties so k distinct items are kept.
        indices = probs.argmax(-1) if self.training else self._assign(probs)
        mask = indices_to_mask(indices, self.num_items, dtype=scores.dtype)
        if self.training:
            y = torch.softmax((self.logits + gumbel_noise(self.logits)) / self.temperature, dim=-1)
            if self.straight_through:
                y = straight_through(F.one_hot(y.argmax(-1), self.num_items).to(y.dtype), y)
            weights = y
        else:
            weights = F.one_hot(indices, self.num_items).to(scores.dtype)
        return Selection(scores=scores, mask=mask, indices=indices, weights=weights)

    def reduce(self, x: Tensor, selection: Selection, dim: int) -> Tensor:
        if not self.training:
            # One-hot rows: a gather gives the same values without the matmul.
            return gather_items(x, selection.indices, dim)
        # Items first, everything else flat: one (k, N) @ (N, B*R) matmul, whose weight gradient
        # is one matmul too (a batched (B, N, R) product is ~3x slower on CPU, mostly backward).
        items = torch.movedim(x, dim, 0)
        mixed = selection.weights.to(x.dtype) @ items.reshape(items.shape[0], -1)
        return torch.movedim(mixed.reshape(-1, *items.shape[1:]), 0, dim)

    # -- penalty / convergence ------------------------------------------------------------
    def regularization(self) -> Tensor:
        """``penalty_weight * sum_c ReLU(sum_m p_mc - tau)`` (duplicate-channel penalty)."""
        if self.penalty_weight == 0.0:
            return self.logits.new_zeros(())
        load = self.probabilities().sum(dim=0)
        return self.penalty_weight * torch.relu(load - self.threshold).sum()

    def entropy(self) -> float:
        """Mean normalised entropy of the neurons' distributions: 1 = uniform, 0 = one-hot."""
        if self.num_items == 1:
            return 0.0
        with torch.no_grad():
            p = self.probabilities()
            h = -(p * torch.log(p.clamp_min(1e-12))).sum(-1) / math.log(self.num_items)
        return float(h.mean())

    def is_converged(self, threshold: float = 0.05) -> bool:
        """Whether every neuron has (nearly) settled on one item and no two share one.

        ``threshold`` bounds the mean normalised entropy (:meth:`entropy`).
        """
        check_positive(threshold, "threshold")
        with torch.no_grad():
            argmax = self.probabilities().argmax(-1)
        return self.entropy() < threshold and argmax.unique().numel() == self.num_neurons
