"""Multi-sensor recordings: sensors at their native rates plus labelled intervals.

A :class:`Recording` is one session of one subject: a set of :class:`SensorStream` objects, each
with its own timestamps and native sampling rate (a phone accelerometer at 200 Hz next to a
watch magnetometer at 100 Hz), and activity labels as time intervals. Windowing and resampling
onto a common timeline happen later (:mod:`selectkit.datasets.windows`), so a loader only has to
describe what was recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SensorStream", "LabelInterval", "Recording", "clean_samples"]

log = logging.getLogger(__name__)


def clean_samples(
    timestamps: np.ndarray, values: np.ndarray, *, source: str
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Sort by time, drop rows with non-finite values, merge duplicated timestamps (mean).

    Nothing is dropped silently: the counts are returned and logged under ``source``.

    Args:
        timestamps: ``(T,)`` seconds.
        values: ``(T, A)``.
    Returns:
        ``(timestamps, values, counts)`` with strictly increasing timestamps.
    """
    t = np.asarray(timestamps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if t.ndim != 1 or v.ndim != 2 or len(t) != len(v):
        raise ValueError(f"{source}: timestamps {t.shape} and values {v.shape} must be (T,) and (T, axes)")
    counts = {"rows": len(t), "non_finite": 0, "duplicates": 0, "out_of_order": 0}
    finite = np.isfinite(t) & np.isfinite(v).all(axis=1)
    counts["non_finite"] = int((~finite).sum())
    t, v = t[finite], v[finite]
    counts["out_of_order"] = int((np.diff(t) < 0).sum()) if len(t) > 1 else 0
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    uniq, inverse, n_per = np.unique(t, return_inverse=True, return_counts=True)
    counts["duplicates"] = int(len(t) - len(uniq))
    if counts["duplicates"]:
        sums = np.zeros((len(uniq), v.shape[1]))
        np.add.at(sums, inverse, v)
        v = sums / n_per[:, None]
        t = uniq
    if counts["non_finite"] or counts["duplicates"] or counts["out_of_order"]:
        log.info(
            "%s: %d rows; dropped %d with non-finite values, merged %d duplicated timestamps, sorted %d out-of-order steps",
            source, counts["rows"], counts["non_finite"], counts["duplicates"], counts["out_of_order"],
        )
    return t, v.astype(np.float32), counts


@dataclass
class SensorStream:
    """One sensor's samples at its native rate.

    Attributes:
        name: unique id within the recording, e.g. ``"phone_acc"``.
        position: device / body position, e.g. ``"phone"``, ``"wrist"``, ``"chest"``.
        modality: ``"acc"``, ``"gyro"``, ``"mag"``, ``"ecg"``, ...
        axes: axis names, e.g. ``("x", "y", "z")``.
        rate: native sampling rate in Hz (nominal; the median sampling interval when measured).
        timestamps: ``(T,)`` seconds, strictly increasing.
        values: ``(T, len(axes))`` float32.
        bytes_per_sample: bytes one axis sample takes on the wire (cost model).
    """

    name: str
    position: str
    modality: str
    axes: tuple[str, ...]
    rate: float
    timestamps: np.ndarray
    values: np.ndarray
    bytes_per_sample: int = 2

    def __post_init__(self) -> None:
        self.axes = tuple(self.axes)
        where = f"sensor {self.name!r}"
        if not self.axes:
            raise ValueError(f"{where}: axes must not be empty")
        if not (np.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"{where}: rate={self.rate!r} Hz must be a positive number")
        if self.values.ndim != 2 or self.values.shape[1] != len(self.axes):
            raise ValueError(f"{where}: values has shape {self.values.shape}, expected (T, {len(self.axes)}) for axes {self.axes}")
        if self.timestamps.shape != (len(self.values),):
            raise ValueError(f"{where}: timestamps has shape {self.timestamps.shape}, expected ({len(self.values)},)")
        if len(self.timestamps) > 1 and not np.all(np.diff(self.timestamps) > 0):
            raise ValueError(f"{where}: timestamps must be strictly increasing (use clean_samples)")
        if self.bytes_per_sample <= 0:
            raise ValueError(f"{where}: bytes_per_sample={self.bytes_per_sample!r} must be > 0")

    @property
    def num_axes(self) -> int:
        return len(self.axes)

    def cost(self, rate: float | None = None) -> float:
        """Data rate in bytes/s when streamed at ``rate`` (default: its native rate)."""
        return float(rate if rate is not None else self.rate) * self.num_axes * self.bytes_per_sample


@dataclass(frozen=True)
class LabelInterval:
    start: float
    end: float
    label: str

    def __post_init__(self) -> None:
        if not (np.isfinite(self.start) and np.isfinite(self.end)) or self.end <= self.start:
            raise ValueError(f"label interval {self.label!r}: end={self.end} must be after start={self.start}")


@dataclass
class Recording:
    """One session: sensors at native rates and labelled intervals (seconds)."""

    subject: str
    session: str
    sensors: dict[str, SensorStream]
    labels: list[LabelInterval] = field(default_factory=list)

    def __post_init__(self) -> None:
        for key, s in self.sensors.items():
            if key != s.name:
                raise ValueError(f"recording {self.session!r}: sensor key {key!r} != its name {s.name!r}")
        self.labels = sorted(self.labels, key=lambda iv: iv.start)
        for a, b in zip(self.labels, self.labels[1:]):
            if b.start < a.end - 1e-9:
                raise ValueError(
                    f"recording {self.session!r}: label intervals overlap: {a.label!r} [{a.start}, {a.end}] and {b.label!r} [{b.start}, {b.end}]"
                )

    @property
    def classes(self) -> list[str]:
        return sorted({iv.label for iv in self.labels})
