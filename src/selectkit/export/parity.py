"""Parity of an exported model with the float torch model, and per-window latency.

Every exported artefact is judged the same way on the test split: its own accuracy and
macro-F1, how often its argmax agrees with the float torch model's, and the largest absolute
difference between its (dequantised) logits and the float logits.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

__all__ = ["parity", "median_latency", "BatchFn"]

#: ``(N, S, A, T)`` float32 windows -> ``(N, num_classes)`` float32 logits (dequantised for int8).
BatchFn = Callable[[np.ndarray], np.ndarray]


def parity(logits: np.ndarray, reference: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Compare ``logits`` ``(N, K)`` of an artefact with the float model's ``reference`` ``(N, K)``.

    Returns accuracy and macro-F1 against ``labels`` ``(N,)``, ``agreement`` (fraction of windows
    with the same argmax as the reference) and ``max_abs_diff`` of the logits.
    """
    logits, reference = np.asarray(logits, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if logits.shape != reference.shape or logits.ndim != 2 or len(labels) != len(logits):
        raise ValueError(f"logits {logits.shape}, reference {reference.shape} and labels ({len(labels)},) do not match")
    pred = logits.argmax(1)
    return {
        "acc": float(accuracy_score(labels, pred)),
        "macro_f1": float(f1_score(labels, pred, average="macro")),
        "agreement": float((pred == reference.argmax(1)).mean()),
        "max_abs_diff": float(np.abs(logits - reference).max()),
        "n": int(len(labels)),
    }


def median_latency(fn: BatchFn, window: np.ndarray, *, repeats: int = 50, warmup: int = 5) -> float:
    """Median wall time in seconds of ``fn`` on one window ``(1, S, A, T)``.

    The median, not the mean: the machine is shared, and a few preempted runs must not move it.
    """
    for _ in range(warmup):
        fn(window)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(window)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
