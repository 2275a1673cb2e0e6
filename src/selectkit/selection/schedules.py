"""Annealing schedules for temperatures and thresholds, driven by training progress.

A schedule maps progress ``p`` in ``[0, 1]`` (fraction of training done) to a value, so a
callback can drive any selector without knowing its step count. Strypsteen & Bertrand (2021)
anneal the Gumbel-softmax temperature exponentially from 10 to 0.1 and the duplicate threshold
from 3 to 1.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from selectkit.validation import check_choice

__all__ = ["Schedule", "ConstantSchedule", "LinearSchedule", "ExponentialSchedule", "CosineSchedule", "make_schedule"]


@dataclass(frozen=True)
class Schedule:
    start: float
    end: float

    def __call__(self, progress: float) -> float:
        p = min(max(float(progress), 0.0), 1.0)
        return self._at(p)

    def _at(self, p: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class ConstantSchedule(Schedule):
    def _at(self, p: float) -> float:
        return self.start


@dataclass(frozen=True)
class LinearSchedule(Schedule):
    def _at(self, p: float) -> float:
        return self.start + (self.end - self.start) * p


@dataclass(frozen=True)
class ExponentialSchedule(Schedule):
    """Geometric interpolation ``start * (end / start) ** p`` (both ends > 0)."""

    def __post_init__(self) -> None:
        if self.start <= 0 or self.end <= 0:
            raise ValueError(f"exponential schedule needs start > 0 and end > 0, got start={self.start}, end={self.end}")

    def _at(self, p: float) -> float:
        return self.start * (self.end / self.start) ** p


@dataclass(frozen=True)
class CosineSchedule(Schedule):
    def _at(self, p: float) -> float:
        return self.end + (self.start - self.end) * 0.5 * (1.0 + math.cos(math.pi * p))


_KINDS = {
    "constant": ConstantSchedule,
    "linear": LinearSchedule,
    "exponential": ExponentialSchedule,
    "cosine": CosineSchedule,
}


def make_schedule(kind: str, start: float, end: float) -> Schedule:
    check_choice(kind, "schedule", tuple(_KINDS))
    return _KINDS[kind](float(start), float(end))
