"""Ground-truth recovery: can a selector find the items that carry the label?

On :func:`selectkit.datasets.synthetic.informative_items_task` only items ``{2, 5}`` of 10 carry
the label. A small MLP is trained behind the selector for a few hundred steps (seconds on a
CPU), then the selector's choice is read off and compared with the truth. Used by
``selectkit demo`` and the test suite.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selectkit.datasets.synthetic import informative_items_bayes_accuracy, informative_items_task
from selectkit.selection import Selector, create_selector, get_selector_class

__all__ = ["RecoveryResult", "RECOVERY_SETUPS", "run_recovery", "run_attention_recovery", "run_all"]

#: Per selector: constructor arguments and the informative items of its task. SoftSelect blends
#: candidates into one, so its task has a single informative item.
RECOVERY_SETUPS: dict[str, dict[str, Any]] = {
    "weight_scores": {"kwargs": {"k": 2}, "informative": (2, 5)},
    "gumbel_topk": {"kwargs": {"k": 2}, "informative": (2, 5)},
    "gumbel_gates": {"kwargs": {"target_rate": 0.2, "budget_mode": "mean"}, "informative": (2, 5)},
    "soft_select": {"kwargs": {}, "informative": (5,)},
}


@dataclass
class RecoveryResult:
    selector: str
    truth: list[int]
    chosen: list[int]
    steps: int
    seconds: float
    accuracy: float
    #: The best any classifier can do on the task (``None`` where not defined).
    bayes_accuracy: float | None = None
    details: dict[str, float] = field(default_factory=dict)

    @property
    def recovered(self) -> bool:
        return sorted(self.chosen) == sorted(self.truth)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "recovered": self.recovered}


class _Probe(nn.Module):
    """selector -> flatten -> MLP; the selector's output size decides the MLP's input size."""

    def __init__(self, selector: Selector, num_items: int, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.selector = selector
        with torch.no_grad():
            was = selector.training
            selector.eval()
            out, _ = selector(torch.zeros(1, num_items, num_features))
            selector.train(was)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(out[0].numel(), 64), nn.ReLU(), nn.Linear(64, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
        out, selection = self.selector(x)
        return self.head(out), selection


def _chosen(selector: Selector, x: torch.Tensor) -> tuple[list[int], dict[str, float]]:
    if not selector.input_dependent:
        return sorted(selector.freeze().tolist()), {}
    # Dynamic gates: the items open on most held-out samples.
    with torch.no_grad():
        _, selection = selector(x)
    rates = selection.mask.float().mean(0)
    details = {f"rate_item_{i}": round(float(r), 3) for i, r in enumerate(rates)}
    details["mean_rate"] = round(float(rates.mean()), 3)
    return sorted(torch.nonzero(rates > 0.5).flatten().tolist()), details


def run_recovery(
    name: str,
    *,
    steps: int = 300,
    seed: int = 0,
    batch_size: int = 128,
    num_items: int = 10,
    num_features: int = 8,
    lr: float = 1e-2,
) -> RecoveryResult:
    """Train selector ``name`` on the recovery task and report what it chose."""
    if name not in RECOVERY_SETUPS:
        trainable = [n for n in RECOVERY_SETUPS if get_selector_class(n).trainable]
        raise ValueError(f"no recovery setup for selector={name!r}; available: {trainable}")
    setup = RECOVERY_SETUPS[name]
    informative = setup["informative"]
    torch.manual_seed(seed)
    # One draw, then split: train and test share the task's patterns.
    n_train, n_test = steps * batch_size, 2000
    x_all, y_all = informative_items_task(
        n_train + n_test, num_items=num_items, informative=informative, num_features=num_features, seed=seed
    )
    x_train, y_train, x_test, y_test = x_all[:n_train], y_all[:n_train], x_all[n_train:], y_all[n_train:]
    num_classes = 2 ** len(informative)
    selector = create_selector(name, num_items=num_items, **setup["kwargs"])
    model = _Probe(selector, num_items, num_features, num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    model.train()
    for step in range(steps):
        selector.anneal(step / max(steps - 1, 1))
        xb = x_train[step * batch_size : (step + 1) * batch_size]
        yb = y_train[step * batch_size : (step + 1) * batch_size]
        logits, _ = model(xb)
        loss = F.cross_entropy(logits, yb) + selector.regularization()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        accuracy = float((model(x_test)[0].argmax(-1) == y_test).float().mean())
    chosen, details = _chosen(selector, x_test)
    bayes = informative_items_bayes_accuracy(len(informative))
    return RecoveryResult(
        name, sorted(informative), chosen, steps, round(seconds, 2), round(accuracy, 4), round(bayes, 4), details
    )


def run_attention_recovery(*, seed: int = 0, num_items: int = 10, num_features: int = 16, batch_size: int = 64) -> RecoveryResult:
    """The training-free case: ``AttentionTopK`` must keep the items the last one attends to.

    Items 2 and 5 are noisy copies of the last item (the "query"), the rest are unrelated; with
    ``k=3`` and the last item forced, the answer is ``{2, 5, last}`` in every sample.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, num_items, num_features, generator=g)
    query = x[:, -1:]
    x[:, [2, 5]] = query + 0.3 * torch.randn(batch_size, 2, num_features, generator=g)
    selector = create_selector("attention_topk", num_items=num_items, k=3, pool_kernel=1, keep_last=1).eval()
    truth = [2, 5, num_items - 1]
    start = time.perf_counter()
    with torch.no_grad():
        _, selection = selector(x)
    seconds = time.perf_counter() - start
    per_sample = [sorted(row) for row in selection.indices.tolist()]
    agree = sum(row == truth for row in per_sample) / len(per_sample)
    # Report the most common choice; `accuracy` is the fraction of samples with exactly the truth.
    chosen = max(per_sample, key=per_sample.count)
    return RecoveryResult("attention_topk", truth, chosen, 0, round(seconds, 4), round(agree, 4))


def run_all(*, steps: int = 300, seed: int = 0) -> list[RecoveryResult]:
    """Every registered selector with a recovery setup, plus the training-free attention case."""
    return [run_recovery(name, steps=steps, seed=seed) for name in RECOVERY_SETUPS] + [run_attention_recovery(seed=seed)]
