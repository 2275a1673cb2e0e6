"""The shared parameter vocabulary, validated in one place.

Every selector, dataset and model in selectkit speaks of ``num_items`` (length of the item
axis), ``k`` (items kept), ``keep_ratio`` (fraction kept), ``dim`` (the item axis) and ``costs``
(per-item cost, e.g. bytes/s). The checks live here so that every error message names the
parameter and its value the same way, wherever it is raised.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "check_num_items",
    "check_budget",
    "resolve_k",
    "check_costs",
    "check_cost_budget",
    "check_dim",
    "check_axis_length",
    "check_finite",
    "check_positive",
    "check_choice",
]


def check_num_items(num_items: int | None, *, allow_none: bool = False) -> int | None:
    if num_items is None and allow_none:
        return None
    if isinstance(num_items, bool) or not isinstance(num_items, int) or num_items < 1:
        raise ValueError(f"num_items={num_items!r} must be a positive integer")
    return num_items


def check_budget(
    k: int | None,
    keep_ratio: float | None,
    num_items: int | None,
    *,
    required: bool = True,
) -> None:
    """Check that at most one of ``k`` / ``keep_ratio`` is given and that it is in range.

    ``num_items`` may be ``None`` for selectors whose item count is only known from the input
    (prompt tokens); ``k`` is then checked again against the input by :func:`resolve_k`.
    """
    if k is not None and keep_ratio is not None:
        raise ValueError(f"give either k or keep_ratio, not both (got k={k!r}, keep_ratio={keep_ratio!r})")
    if k is None and keep_ratio is None:
        if required:
            raise ValueError("a budget is required: give k (items kept) or keep_ratio (fraction kept)")
        return
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, int):
            raise ValueError(f"k={k!r} must be an integer")
        if k <= 0:
            raise ValueError(f"k={k} must be >= 1")
        if num_items is not None and k > num_items:
            raise ValueError(f"k={k} must be <= num_items={num_items}")
    if keep_ratio is not None:
        if isinstance(keep_ratio, bool) or not isinstance(keep_ratio, (int, float)):
            raise ValueError(f"keep_ratio={keep_ratio!r} must be a number in (0, 1]")
        if not (0.0 < float(keep_ratio) <= 1.0) or math.isnan(keep_ratio):
            raise ValueError(f"keep_ratio={keep_ratio!r} must be in (0, 1]")


def resolve_k(k: int | None, keep_ratio: float | None, num_items: int) -> int:
    """The number of items kept out of ``num_items``.

    ``keep_ratio`` rounds up (``ceil(keep_ratio * num_items)``, at least 1), so a budget is never
    undershot: keeping 10 % of 15 items keeps 2.
    """
    if k is not None:
        if k > num_items:
            raise ValueError(f"k={k} must be <= num_items={num_items} (the length of the item axis)")
        return k
    if keep_ratio is None:
        raise ValueError("a budget is required: give k (items kept) or keep_ratio (fraction kept)")
    # The small epsilon keeps 0.3 * 10 from becoming ceil(3.0000000000000004) = 4.
    return max(1, min(num_items, math.ceil(keep_ratio * num_items - 1e-9)))


def check_costs(costs: Tensor | Sequence[float] | None, num_items: int | None) -> Tensor | None:
    """Per-item costs as a float tensor of shape ``(num_items,)``, finite and >= 0."""
    if costs is None:
        return None
    try:
        t = torch.as_tensor(costs, dtype=torch.float64).detach().clone()
    except (TypeError, ValueError) as err:
        raise ValueError(f"costs must be a sequence of numbers, got {type(costs).__name__}: {err}") from None
    if t.ndim != 1:
        raise ValueError(f"costs must be 1-D (one cost per item), got shape {tuple(t.shape)}")
    if num_items is not None and t.numel() != num_items:
        raise ValueError(f"costs has length {t.numel()}, expected num_items={num_items}")
    if not torch.isfinite(t).all():
        bad = torch.nonzero(~torch.isfinite(t)).flatten().tolist()
        raise ValueError(f"costs must be finite; non-finite at items {bad}")
    if (t < 0).any():
        bad = torch.nonzero(t < 0).flatten().tolist()
        raise ValueError(f"costs must be >= 0; negative at items {bad}: {t[t < 0].tolist()}")
    return t.to(torch.float32)


def check_cost_budget(cost_budget: float | None, costs: Tensor | None) -> float | None:
    if cost_budget is None:
        return None
    if costs is None:
        raise ValueError(f"cost_budget={cost_budget!r} needs per-item costs (costs=None)")
    if isinstance(cost_budget, bool) or not isinstance(cost_budget, (int, float)) or not math.isfinite(cost_budget):
        raise ValueError(f"cost_budget={cost_budget!r} must be a finite number")
    if cost_budget < float(costs.min()):
        raise ValueError(
            f"cost_budget={cost_budget} is below the cheapest item's cost {float(costs.min())}: nothing could be kept"
        )
    return float(cost_budget)


def check_dim(dim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise ValueError(f"dim={dim!r} must be an integer (the item axis)")
    if dim == 0:
        raise ValueError("dim=0 is the batch axis; the item axis must be >= 1 (or negative)")
    return dim


def check_axis_length(x: Tensor, dim: int, num_items: int | None, name: str = "x") -> int:
    """Normalise ``dim`` against ``x`` and check the item axis length; returns the positive dim."""
    if x.ndim < 2:
        raise ValueError(f"{name} must have a batch axis and an item axis, got shape {tuple(x.shape)}")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"dim={dim} is out of range for {name} with shape {tuple(x.shape)}")
    pos = dim % x.ndim
    if pos == 0:
        raise ValueError(f"dim={dim} points at the batch axis of {name} with shape {tuple(x.shape)}")
    if num_items is not None and x.shape[pos] != num_items:
        raise ValueError(
            f"{name}.shape[{dim}]={x.shape[pos]} != num_items={num_items} (shape {tuple(x.shape)})"
        )
    return pos


def check_finite(t: Tensor, name: str) -> None:
    """Raise if ``t`` holds NaN or inf.

    Fast path: one sum (NaN and inf propagate into it) instead of an elementwise mask, so the
    check costs about as much as reading the tensor once; only a non-finite sum (a real NaN/inf,
    or finite values whose sum overflows) pays for the exact count.
    """
    if not t.is_floating_point():
        return
    with torch.no_grad():
        if torch.isfinite(t.sum()):
            return
        bad = ~torch.isfinite(t)
        if not bad.any():
            return
        n_nan = int(torch.isnan(t).sum())
        n_inf = int(bad.sum()) - n_nan
    raise ValueError(f"{name} contains non-finite values ({n_nan} NaN, {n_inf} inf), shape {tuple(t.shape)}")


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}={value!r} must be a finite number {bound}")
    return float(value)


def check_choice(value: str | None, name: str, choices: Sequence[str | None]) -> str | None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} must be one of {list(choices)}")
    return value
