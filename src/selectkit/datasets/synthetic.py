"""Seeded synthetic tasks whose correct selection is known, so tests can check recovery."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import torch
from torch import Tensor

__all__ = [
    "informative_items_task",
    "informative_items_bayes_accuracy",
    "SyntheticSensor",
    "DEFAULT_SYNTHETIC_SENSORS",
    "synthetic_body_sensors",
]


def informative_items_task(
    num_samples: int,
    *,
    num_items: int = 10,
    informative: Sequence[int] = (2, 5),
    num_features: int = 8,
    amplitude: float = 1.0,
    noise: float = 1.0,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """Items of which only ``informative`` carry the label; each of them is needed.

    Each informative item ``j`` carries one independent bit ``b_j`` as ``(2 b_j - 1) * amplitude``
    times a fixed random unit pattern over the features, plus Gaussian noise; the label is the
    number the bits spell (``2 ** len(informative)`` classes), so no single item suffices and
    the only full answer is the informative set. Every other item is pure noise.

    Returns:
        ``x`` of shape ``(num_samples, num_items, num_features)`` float32 and ``y`` of shape
        ``(num_samples,)`` int64.
    """
    informative = list(informative)
    if not informative or len(set(informative)) != len(informative):
        raise ValueError(f"informative={informative!r} must be distinct item positions")
    if min(informative) < 0 or max(informative) >= num_items:
        raise ValueError(f"informative={informative!r} must lie in [0, num_items={num_items})")
    if num_samples < 1:
        raise ValueError(f"num_samples={num_samples!r} must be >= 1")
    g = torch.Generator().manual_seed(seed)
    patterns = torch.randn(len(informative), num_features, generator=g)
    patterns = patterns / patterns.norm(dim=-1, keepdim=True)
    bits = torch.randint(0, 2, (num_samples, len(informative)), generator=g)
    x = noise * torch.randn(num_samples, num_items, num_features, generator=g)
    for j, item in enumerate(informative):
        x[:, item] += (2 * bits[:, j : j + 1] - 1).float() * amplitude * patterns[j]
    y = (bits * (2 ** torch.arange(len(informative)))).sum(-1)
    return x, y


def informative_items_bayes_accuracy(num_informative: int, *, amplitude: float = 1.0, noise: float = 1.0) -> float:
    """The best accuracy any classifier reaches on :func:`informative_items_task`.

    Each bit is read off its own item: projected onto its unit pattern it is ``+-amplitude`` plus
    ``N(0, noise^2)``, so it is right with probability ``Phi(amplitude / noise)``; all bits must be.
    """
    return (0.5 * (1.0 + math.erf(amplitude / noise / math.sqrt(2.0)))) ** num_informative


@dataclass(frozen=True)
class SyntheticSensor:
    """A simulated sensor: name, body position, modality, native rate (Hz)."""

    name: str
    position: str
    modality: str = "acc"
    rate: float = 100.0


#: Six body positions, like a small body-sensor network.
DEFAULT_SYNTHETIC_SENSORS: tuple[SyntheticSensor, ...] = (
    SyntheticSensor("chest_acc", "chest"),
    SyntheticSensor("wrist_acc", "wrist"),
    SyntheticSensor("wrist_gyro", "wrist", "gyro"),
    SyntheticSensor("ankle_acc", "ankle"),
    SyntheticSensor("thigh_acc", "thigh"),
    SyntheticSensor("head_acc", "head", rate=50.0),
)


def synthetic_body_sensors(
    *,
    sensors: Sequence[SyntheticSensor] = DEFAULT_SYNTHETIC_SENSORS,
    informative: Sequence[str] = ("wrist_acc", "ankle_acc"),
    signature_hz: float = 8.0,
    num_subjects: int = 3,
    intervals_per_class: int = 2,
    interval_s: float = 20.0,
    amplitude: float = 1.0,
    noise: float = 0.5,
    seed: int = 0,
) -> list[Recording]:
    """Seeded multi-position recordings whose right sensors and rate are known.

    Every sensor carries slow, class-independent motion (0.3-2 Hz) and white noise. Only the
    ``informative`` sensors carry the class: informative sensor ``j`` holds bit ``j`` of the
    class index as a ``signature_hz`` oscillation on its x axis (bit 0) or its y axis (bit 1),
    so all informative sensors are needed (``2 ** len(informative)`` classes), and a sampling
    rate must exceed twice ``signature_hz`` to see it: with the default 8 Hz, 25 Hz suffices
    and 12.5 Hz does not.

    Each subject performs every class ``intervals_per_class`` times for ``interval_s`` seconds,
    in a shuffled order, back to back (so windows can straddle label changes).
    """
    from selectkit.datasets.recording import LabelInterval, Recording, SensorStream

    by_name = {s.name: s for s in sensors}
    unknown = [n for n in informative if n not in by_name]
    if unknown:
        raise ValueError(f"informative sensors {unknown} are not among sensors {list(by_name)}")
    if signature_hz <= 0:
        raise ValueError(f"signature_hz={signature_hz} must be > 0")
    for s in sensors:
        if s.name in informative and s.rate <= 2 * signature_hz:
            raise ValueError(f"sensor {s.name!r} at {s.rate} Hz cannot carry a {signature_hz} Hz signature (Nyquist)")
    num_classes = 2 ** len(informative)
    classes = [f"activity_{c}" for c in range(num_classes)]
    rng = np.random.default_rng(seed)
    recordings = []
    for subj in range(num_subjects):
        order = rng.permutation(np.repeat(np.arange(num_classes), intervals_per_class))
        t_start = 1000.0 * (subj + 1)
        labels = [
            LabelInterval(t_start + i * interval_s, t_start + (i + 1) * interval_s, classes[c]) for i, c in enumerate(order)
        ]
        total = len(order) * interval_s
        streams = {}
        for s in sensors:
            t = t_start + np.arange(int(total * s.rate)) / s.rate
            slow_f = rng.uniform(0.3, 2.0, size=3)
            slow_phase = rng.uniform(0, 2 * np.pi, size=3)
            v = 0.5 * np.sin(2 * np.pi * slow_f * (t - t_start)[:, None] + slow_phase) + noise * rng.standard_normal((len(t), 3))
            if s.name in informative:
                j = list(informative).index(s.name)
                cls_at = order[np.minimum(((t - t_start) // interval_s).astype(int), len(order) - 1)]
                bit = (cls_at >> j) & 1
                osc = amplitude * np.sin(2 * np.pi * signature_hz * (t - t_start) + rng.uniform(0, 2 * np.pi))
                v[:, 0] += np.where(bit == 0, osc, 0.0)
                v[:, 1] += np.where(bit == 1, osc, 0.0)
            streams[s.name] = SensorStream(s.name, s.position, s.modality, ("x", "y", "z"), s.rate, t, v.astype(np.float32))
        recordings.append(Recording(f"subject_{subj}", f"subject_{subj}_session_0", streams, labels))
    return recordings
