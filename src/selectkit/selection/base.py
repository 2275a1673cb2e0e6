"""The one abstraction: a :class:`Selector` chooses among ``N`` items laid along one axis.

Every selector is three decisions; the base class does the plumbing (validation, budget, top-k,
masking, gathering, freezing), so a new method is a small subclass that only scores:

1. **score** -- ``score(x, ctx)`` returns ``(N,)`` for static selectors or ``(B, N)`` per sample;
   higher means keep.
2. **relax** -- ``relax(scores, mask)`` returns the differentiable weights applied to ``x`` while
   training (soft weights, Gumbel samples, straight-through); ``eval_weights`` the hard ones.
3. **reduce** -- ``reduction="mask"`` multiplies the items by their weights (dropped items become
   zero, shape unchanged); ``"gather"`` keeps only the chosen items (a physically smaller
   tensor); subclasses may reduce otherwise (weighted sum over candidates).

Budget: ``k`` (count) or ``keep_ratio`` (fraction, rounded up), or ``cost_budget`` with per-item
``costs`` for selectors that support it (greedy by score per cost). In ``eval()`` every selector
is deterministic; input-independent selectors can :meth:`Selector.freeze` into static indices.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator

import torch
from torch import Tensor, nn

from selectkit.selection.ops import (
    apply_item_weights,
    gather_items,
    greedy_cost_indices,
    indices_to_mask,
    topk_indices,
)
from selectkit.validation import (
    check_axis_length,
    check_budget,
    check_choice,
    check_cost_budget,
    check_costs,
    check_dim,
    check_finite,
    check_num_items,
    resolve_k,
)

__all__ = ["Selection", "SelectionContext", "Selector"]


@dataclass
class Selection:
    """What a selector chose for one forward pass.

    Attributes:
        scores: ``(N,)`` static or ``(B, N)`` per sample; higher = keep.
        mask: same shape as ``scores``; the hard 0/1 choice (no gradient).
        indices: ``(k,)`` or ``(B, k)`` int64 positions of the kept items *in the order they
            appear in the output* (ascending positions for top-k selectors, slot order for
            :class:`~selectkit.selection.GumbelTopK`); ``None`` when the number kept varies per
            sample (threshold gates).
        weights: what was applied to the input -- per-item weights ``(N,)`` / ``(B, N)``, or a
            ``(k, N)`` mixing matrix; differentiable while training.
    """

    scores: Tensor
    mask: Tensor
    indices: Tensor | None
    weights: Tensor

    @property
    def num_kept(self) -> Tensor:
        """Items kept: a 0-d tensor for static selections, ``(B,)`` per sample."""
        return self.mask.sum(-1)


@dataclass
class SelectionContext:
    """Side information a scorer may need beyond the tensor being reduced.

    Attributes:
        query: ``(B, H, Q, d)`` attention queries (e.g. the last prompt token after RoPE).
        keys: ``(B, H_kv, N, d)`` attention keys; ``H`` must be a multiple of ``H_kv`` (GQA).
        logits: ``(B, N)`` scores computed elsewhere (e.g. a Deep3D disparity network's output).
        extra: anything else a custom scorer needs.
    """

    query: Tensor | None = None
    keys: Tensor | None = None
    logits: Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Selector(nn.Module):
    """Base class: validate, score, relax, reduce.

    Args:
        num_items: length ``N`` of the item axis; ``None`` only for selectors whose item count
            comes from the input (prompt tokens).
        k: items kept. Mutually exclusive with ``keep_ratio``.
        keep_ratio: fraction of items kept, in ``(0, 1]``, rounded up.
        dim: the item axis of the input (never 0, the batch axis; negative counts from the end).
        costs: ``(N,)`` non-negative per-item costs (bytes/s, energy), reported by
            :meth:`selection_cost` and used by ``cost_budget``.
        cost_budget: keep items greedily by score per cost while their total cost stays within
            this budget (only where ``supports_cost_budget``).
        reduction: ``"mask"`` or ``"gather"`` (see the module docstring).

    Subclass contract: implement :meth:`score`; override :meth:`relax` / :meth:`eval_weights`
    for the training relaxation, and :meth:`regularization` / :meth:`anneal` where the method
    has a penalty or a schedule.
    """

    registry_name: ClassVar[str] = ""
    #: The choice depends on the input (per-sample); such selectors cannot be frozen.
    input_dependent: bool = False
    #: The method has parameters trained by gradient descent.
    trainable: ClassVar[bool] = True
    supports_cost_budget: ClassVar[bool] = False
    reductions: ClassVar[tuple[str, ...]] = ("mask", "gather")
    #: ``num_items=None`` is allowed (the item count comes from the input).
    variable_num_items: ClassVar[bool] = False
    #: A budget must be given at construction; otherwise all items are kept when none is.
    budget_required: ClassVar[bool] = True
    #: The method always keeps this many items (SoftSelect blends into one); ``None`` = any ``k``.
    fixed_k: ClassVar[int | None] = None

    def __init__(
        self,
        num_items: int | None,
        *,
        k: int | None = None,
        keep_ratio: float | None = None,
        dim: int = 1,
        costs: Tensor | None = None,
        cost_budget: float | None = None,
        reduction: str | None = None,
    ) -> None:
        super().__init__()
        self.num_items = check_num_items(num_items, allow_none=self.variable_num_items)
        name = type(self).__name__
        if cost_budget is not None and not self.supports_cost_budget:
            raise ValueError(f"cost_budget={cost_budget!r} is not supported by {name}")
        if cost_budget is not None and (k is not None or keep_ratio is not None):
            raise ValueError(f"give one budget: cost_budget={cost_budget!r} together with k={k!r}, keep_ratio={keep_ratio!r}")
        check_budget(k, keep_ratio, self.num_items, required=self.budget_required and cost_budget is None)
        self.k = k
        self.keep_ratio = keep_ratio
        self.dim = check_dim(dim)
        self.register_buffer("costs", check_costs(costs, self.num_items), persistent=True)
        self.cost_budget = check_cost_budget(cost_budget, self.costs)
        reduction = self.reductions[0] if reduction is None else reduction
        self.reduction = check_choice(reduction, "reduction", self.reductions)

    # ------------------------------------------------------------------ the three decisions
    def score(self, x: Tensor | None, ctx: SelectionContext | None = None) -> Tensor:
        """Scores ``(N,)`` or ``(B, N)``; higher = keep. Static selectors ignore ``x``."""
        raise NotImplementedError

    def relax(self, scores: Tensor, mask: Tensor) -> Tensor:
        """Differentiable weights applied to the items while training. Default: the hard mask."""
        return mask

    def eval_weights(self, scores: Tensor, mask: Tensor) -> Tensor:
        """Weights applied to the items in ``eval()``. Default: the hard mask."""
        return mask

    def reduce(self, x: Tensor, selection: Selection, dim: int) -> Tensor:
        """Apply the choice to ``x`` along its (normalised, positive) item axis ``dim``."""
        out = apply_item_weights(x, selection.weights, dim)
        if self.reduction == "gather":
            if selection.indices is None:
                raise ValueError(f"{type(self).__name__}: reduction='gather' needs a fixed number of items per sample")
            out = gather_items(out, selection.indices, dim)
        return out

    # ------------------------------------------------------------------ budget
    def num_kept(self, num_items: int | None = None) -> int:
        """Items a top-k choice keeps out of ``num_items`` (default: this selector's ``N``)."""
        n = self.num_items if num_items is None else num_items
        if self.k is None and self.keep_ratio is None:
            return n
        return resolve_k(self.k, self.keep_ratio, n)

    def choose(self, scores: Tensor) -> Tensor:
        """Hard choice from scores: sorted positions ``(k,)`` or ``(B, k)``."""
        if self.cost_budget is not None:
            return greedy_cost_indices(scores, self.costs, self.cost_budget)
        return topk_indices(scores, self.num_kept(scores.shape[-1]))

    def select(self, scores: Tensor) -> Selection:
        # The hard choice carries no gradient; detaching keeps autograd out of sort/scatter.
        indices = self.choose(scores.detach())
        mask = indices_to_mask(indices, scores.shape[-1], dtype=scores.dtype)
        weights = self.relax(scores, mask) if self.training else self.eval_weights(scores, mask)
        return Selection(scores=scores, mask=mask, indices=indices, weights=weights)

    # ------------------------------------------------------------------ forward
    def forward(self, x: Tensor, ctx: SelectionContext | None = None) -> tuple[Tensor, Selection]:
        """Select items of ``x`` along ``dim``.

        Args:
            x: ``(B, ..., N, ...)`` with the ``N`` items on axis ``dim``.
            ctx: optional side information (attention queries/keys, external logits).

        Returns:
            ``(out, selection)``: ``out`` is ``x`` masked (same shape), gathered (``N`` -> ``k``)
            or reduced as the method defines; ``selection`` describes the choice.
        """
        dim = check_axis_length(x, self.dim, self.num_items)
        check_finite(x, "x")
        scores = self.score(x, ctx)
        check_finite(scores, f"{type(self).__name__} scores")
        if scores.shape[-1] != x.shape[dim] or scores.ndim not in (1, 2):
            raise ValueError(
                f"{type(self).__name__}.score returned shape {tuple(scores.shape)}; expected (N,) or (B, N) with N={x.shape[dim]}"
            )
        selection = self.select(scores)
        return self.reduce(x, selection, dim), selection

    # ------------------------------------------------------------------ training hooks
    def regularization(self) -> Tensor:
        """Penalty added to the loss (duplicate / budget / sparsity); zero if the method has none."""
        p = next(self.parameters(), None)
        return torch.zeros((), device=p.device if p is not None else None)

    def anneal(self, progress: float) -> None:
        """Move temperature / threshold schedules to ``progress`` in [0, 1]. Default: nothing."""

    # ------------------------------------------------------------------ static use
    def _require_static(self, what: str) -> None:
        if self.input_dependent:
            raise ValueError(
                f"{type(self).__name__} is input-dependent (its choice changes per sample); {what} needs an input-independent selector"
            )

    @contextmanager
    def _eval_mode(self) -> Iterator[None]:
        was_training = self.training
        self.train(False)
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was_training)

    def freeze(self) -> Tensor:
        """The static choice as int64 indices ``(k,)``, in output order.

        Equals ``selection.indices`` of any forward pass in ``eval()``; pruning and export
        consume it to build a model on the kept items only.
        """
        self._require_static("freeze()")
        with self._eval_mode():
            return self.select(self.score(None, None)).indices.clone()

    def ranking(self) -> Tensor:
        """All item positions ``(N,)`` from most to least preferred (input-independent only)."""
        self._require_static("ranking()")
        with self._eval_mode():
            scores = self.score(None, None)
        return torch.sort(scores, descending=True, stable=True).indices

    def selection_cost(self, indices: Tensor) -> float:
        """Total cost of the kept items ``indices`` (requires ``costs``)."""
        if self.costs is None:
            raise ValueError(f"{type(self).__name__} has no per-item costs (costs=None)")
        return float(self.costs[indices.flatten()].sum())

    def extra_repr(self) -> str:
        budget = (
            f"k={self.k}" if self.k is not None
            else f"keep_ratio={self.keep_ratio}" if self.keep_ratio is not None
            else f"cost_budget={self.cost_budget}" if self.cost_budget is not None
            else "budget=all"
        )
        return f"num_items={self.num_items}, {budget}, dim={self.dim}, reduction={self.reduction!r}"
