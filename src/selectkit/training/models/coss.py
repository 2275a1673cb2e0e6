"""The CoSS network: sensors x sampling-rate branches, weight scores on both, fusion, classifier.

Liu et al., *CoSS: Co-optimizing Sensor and Sampling Rate for Data-Efficient AI in Human
Activity Recognition*, arXiv:2401.05426. Each sensor's window (at the common input rate) is
resampled into ``R`` rate branches; a per-branch, per-sensor feature extractor turns each
(sensor, rate) pair into a feature vector; trainable weight scores over sensors and over rates
scale those features; the scaled features are fused by an MLP. After training the scores rank
sensors and rates, and :meth:`CoSSNet.pruned` rebuilds the network on the kept sensors at one
kept rate -- an input tensor that really is smaller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selectkit.selection import WeightScores
from selectkit.validation import check_choice

__all__ = ["lowpass_kernel", "decimate", "Decimator", "CoSSNet"]


def lowpass_kernel(factor: int, taps_per_factor: int = 8) -> Tensor:
    """Hamming-windowed sinc low-pass for decimation by ``factor`` (cut-off 0.45 / factor cycles
    per input sample, i.e. 90 % of the new Nyquist frequency); ``(8 * factor + 1,)``, unit DC gain."""
    n = taps_per_factor * factor + 1
    m = torch.arange(n, dtype=torch.float64) - (n - 1) / 2
    fc = 0.45 / factor
    h = 2 * fc * torch.special.sinc(2 * fc * m) * torch.hamming_window(n, periodic=False, dtype=torch.float64)
    return (h / h.sum()).float()


def decimate(x: Tensor, factor: int, kernel: Tensor | None = None) -> Tensor:
    """Anti-aliased downsampling of the last axis by an integer ``factor``.

    ``x``: ``(..., T)`` with ``T`` divisible by ``factor`` -> ``(..., T // factor)``. Edges are
    reflect-padded so a window's ends are not pulled towards zero. The same function prepares
    the input of a pruned model offline, so it sees exactly what its branch saw in training.
    """
    if factor == 1:
        return x
    t = x.shape[-1]
    if t % factor:
        raise ValueError(f"window length {t} is not divisible by the decimation factor {factor}")
    k = lowpass_kernel(factor) if kernel is None else kernel
    flat = x.reshape(-1, 1, t)
    pad = (k.numel() - 1) // 2
    mode = "reflect" if t > pad else "replicate"
    y = F.conv1d(F.pad(flat, (pad, pad), mode=mode), k.to(flat).view(1, 1, -1))
    return y[..., ::factor].reshape(*x.shape[:-1], t // factor)


class Decimator(nn.Module):
    """:func:`decimate` as a module with its kernel as a buffer."""

    def __init__(self, factor: int) -> None:
        super().__init__()
        self.factor = int(factor)
        self.register_buffer("kernel", lowpass_kernel(self.factor) if self.factor > 1 else torch.ones(1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return decimate(x, self.factor, self.kernel)


class _BranchExtractor(nn.Module):
    """Per-sensor 1-D CNN for one rate branch, all sensors in one grouped convolution.

    ``(B, S, A, T) -> (B, S, F)``; group ``s`` only sees sensor ``s``, so a subset of sensors is a
    slice of the weights (used by pruning).
    """

    def __init__(
        self, num_sensors: int, num_axes: int, channels: int, feature_dim: int, kernel_size: int, pooling: str = "mean"
    ) -> None:
        super().__init__()
        s = num_sensors
        self.num_sensors, self.channels, self.feature_dim, self.pooling = s, channels, feature_dim, pooling
        conv_out = feature_dim if pooling == "mean" else feature_dim // 2
        self.conv1 = nn.Conv1d(s * num_axes, s * channels, kernel_size, padding=kernel_size // 2, groups=s)
        self.conv2 = nn.Conv1d(s * channels, s * conv_out, kernel_size, padding=kernel_size // 2, groups=s)

    def forward(self, x: Tensor) -> Tensor:
        b, s, a, t = x.shape
        h = F.relu(self.conv1(x.reshape(b, s * a, t)))
        if h.shape[-1] >= 4:
            h = F.max_pool1d(h, 2)
        h = F.relu(self.conv2(h))
        if self.pooling == "mean":
            pooled = h.mean(-1).reshape(b, s, -1)
        else:
            # Mean and max over time, per sensor: (B, S, F/2) each -> (B, S, F).
            pooled = torch.cat([h.mean(-1).reshape(b, s, -1), h.amax(-1).reshape(b, s, -1)], dim=-1)
        return pooled

    def sliced(self, sensors: Sequence[int]) -> _BranchExtractor:
        """A copy for the given sensors only (their groups' weights)."""
        a = self.conv1.in_channels // self.num_sensors
        new = _BranchExtractor(len(sensors), a, self.channels, self.feature_dim, self.conv1.kernel_size[0], self.pooling)
        conv_out = self.conv2.out_channels // self.num_sensors

        def rows(n: int) -> list[int]:
            return [s * n + i for s in sensors for i in range(n)]

        with torch.no_grad():
            new.conv1.weight.copy_(self.conv1.weight[rows(self.channels)])
            new.conv1.bias.copy_(self.conv1.bias[rows(self.channels)])
            new.conv2.weight.copy_(self.conv2.weight[rows(conv_out)])
            new.conv2.bias.copy_(self.conv2.bias[rows(conv_out)])
        return new


class CoSSNet(nn.Module):
    """Sensors x rate branches -> weight scores -> fusion -> class logits.

    Shapes: input ``(B, S, A, T)`` at ``input_rate``; features ``(B, S, R, F)``; output
    ``(B, num_classes)``.

    Args:
        num_sensors, num_axes, window_length: ``S``, ``A``, ``T`` of the input.
        input_rate: sampling rate of the input timeline (Hz).
        rates: branch rates (Hz), each ``input_rate / factor`` for an integer factor dividing
            ``window_length``; e.g. ``[100, 50, 25, 12.5, 6.25]`` from a 100 Hz input.
        score_mode: ``"separate"`` -- one :class:`~selectkit.selection.WeightScores` over sensors
            and one over rates (CoSS); ``"pair"`` -- one score per (sensor, rate) pair, so each
            sensor can prefer its own rate; ``"none"`` -- no scores (a pruned network).
        score_activation, sparsity, sparsity_weight: passed to the weight scores.
        pooling: ``"mean"`` (global average of the last convolution over time) or ``"meanmax"``
            (average and maximum, half the channels each).
    """

    def __init__(
        self,
        num_sensors: int,
        num_axes: int,
        window_length: int,
        input_rate: float,
        num_classes: int,
        rates: Sequence[float] | None = None,
        channels: int = 16,
        feature_dim: int = 32,
        kernel_size: int = 5,
        hidden: int = 64,
        dropout: float = 0.2,
        score_mode: str = "separate",
        score_activation: str = "softmax",
        sparsity: str | None = None,
        sparsity_weight: float = 0.0,
        pooling: str = "mean",
    ) -> None:
        super().__init__()
        check_choice(pooling, "pooling", ("mean", "meanmax"))
        if pooling == "meanmax" and feature_dim % 2:
            raise ValueError(f"feature_dim={feature_dim} must be even with pooling='meanmax'")
        self.score_mode = check_choice(score_mode, "score_mode", ("separate", "pair", "none"))
        rates = [float(input_rate)] if rates is None else [float(r) for r in rates]
        if not rates:
            raise ValueError("rates must list at least one branch rate")
        self.factors = []
        for r in rates:
            f = input_rate / r
            if r <= 0 or abs(f - round(f)) > 1e-6 or round(f) < 1:
                raise ValueError(f"rate {r} Hz is not input_rate={input_rate} Hz divided by a positive integer")
            if window_length % round(f):
                raise ValueError(
                    f"window_length={window_length} samples is not divisible by {round(f)} (input_rate={input_rate} Hz -> {r} Hz); "
                    f"choose a window of a multiple of {round(f)} samples"
                )
            self.factors.append(int(round(f)))
        self.num_sensors, self.num_axes, self.window_length = num_sensors, num_axes, window_length
        self.input_rate, self.rates, self.num_classes = float(input_rate), rates, num_classes
        self.feature_dim = feature_dim
        self.decimators = nn.ModuleList(Decimator(f) for f in self.factors)
        self.branches = nn.ModuleList(
            _BranchExtractor(num_sensors, num_axes, channels, feature_dim, kernel_size, pooling) for _ in rates
        )
        score_kwargs = dict(activation=score_activation, sparsity=sparsity, sparsity_weight=sparsity_weight)
        self.sensor_scores = self.rate_scores = self.pair_scores = None
        if score_mode == "separate":
            self.sensor_scores = WeightScores(num_sensors, dim=1, **score_kwargs)
            self.rate_scores = WeightScores(len(rates), dim=2, **score_kwargs)
        elif score_mode == "pair":
            self.pair_scores = WeightScores(num_sensors * len(rates), dim=1, **score_kwargs)
        self.fusion = nn.Sequential(
            nn.Flatten(),
            nn.Linear(num_sensors * len(rates) * feature_dim, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    @property
    def num_rates(self) -> int:
        return len(self.rates)

    def features(self, x: Tensor) -> Tensor:
        """``(B, S, A, T)`` -> scaled features ``(B, S, R, F)``."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.num_sensors, self.num_axes, self.window_length):
            raise ValueError(
                f"input has shape {tuple(x.shape)}, expected (B, sensors={self.num_sensors}, axes={self.num_axes}, "
                f"samples={self.window_length})"
            )
        feats = torch.stack([branch(dec(x)) for dec, branch in zip(self.decimators, self.branches)], dim=2)
        if self.sensor_scores is not None:
            feats, _ = self.sensor_scores(feats)
            feats, _ = self.rate_scores(feats)
        elif self.pair_scores is not None:
            b, s, r, f = feats.shape
            flat, _ = self.pair_scores(feats.reshape(b, s * r, f))
            feats = flat.reshape(b, s, r, f)
        return feats

    def forward(self, x: Tensor) -> Tensor:
        return self.fusion(self.features(x))

    # ------------------------------------------------------------------ scores and pruning
    def item_weights(self) -> tuple[Tensor, Tensor]:
        """Effective multipliers ``(S, R)`` of every (sensor, rate) pair, and the pair importance
        ``(S, R)`` used for ranking (their magnitudes)."""
        with torch.no_grad():
            if self.sensor_scores is not None:
                w = self.sensor_scores.weights()[:, None] * self.rate_scores.weights()[None, :]
            elif self.pair_scores is not None:
                w = self.pair_scores.weights().reshape(self.num_sensors, self.num_rates)
            else:
                w = torch.ones(self.num_sensors, self.num_rates)
        return w, w.abs()

    def importance(self, axis: str) -> Tensor:
        """Per-sensor (``axis="sensor"``) or per-rate (``"rate"``) importance, higher = keep.

        The item's own weight score in ``separate`` mode; in ``pair`` mode its best pair.
        """
        check_choice(axis, "axis", ("sensor", "rate"))
        sel = self.sensor_scores if axis == "sensor" else self.rate_scores
        if sel is not None:
            return sel.score(None).detach()
        _, imp = self.item_weights()
        return imp.max(dim=1 if axis == "sensor" else 0).values

    def sensor_ranking(self) -> list[int]:
        return torch.sort(self.importance("sensor"), descending=True, stable=True).indices.tolist()

    def rate_ranking(self) -> list[int]:
        return torch.sort(self.importance("rate"), descending=True, stable=True).indices.tolist()

    def pruned(self, sensors: Sequence[int], rate_index: int) -> CoSSNet:
        """A network on ``sensors`` at ``rates[rate_index]`` only, without scores.

        Its input is ``(B, len(sensors), A, window_length // factor)`` at the kept rate (what the
        hardware would deliver). Extractor weights of the kept groups are copied, and the kept
        pairs' weight scores are folded into the fusion layer, so the pruned network computes the
        same function as the full one restricted to the kept features.
        """
        sensors = [int(s) for s in sensors]
        if not sensors or len(set(sensors)) != len(sensors) or min(sensors) < 0 or max(sensors) >= self.num_sensors:
            raise ValueError(f"sensors={sensors} must be distinct indices in [0, {self.num_sensors})")
        if not 0 <= rate_index < self.num_rates:
            raise ValueError(f"rate_index={rate_index} must be in [0, {self.num_rates})")
        factor = self.factors[rate_index]
        rate = self.rates[rate_index]
        lin1: nn.Linear = self.fusion[1]
        new = CoSSNet(
            len(sensors), self.num_axes, self.window_length // factor, rate, self.num_classes, rates=[rate],
            channels=self.branches[0].channels, feature_dim=self.feature_dim,
            kernel_size=self.branches[0].conv1.kernel_size[0], hidden=lin1.out_features,
            dropout=self.fusion[3].p, score_mode="none", pooling=self.branches[0].pooling,
        )
        new.branches[0] = self.branches[rate_index].sliced(sensors)
        w, _ = self.item_weights()
        f = self.feature_dim
        cols = []
        scale = []
        for s in sensors:
            start = (s * self.num_rates + rate_index) * f
            cols.extend(range(start, start + f))
            scale.extend([float(w[s, rate_index])] * f)
        with torch.no_grad():
            new.fusion[1].weight.copy_(lin1.weight[:, cols] * torch.tensor(scale))
            new.fusion[1].bias.copy_(lin1.bias)
            new.fusion[4].load_state_dict(self.fusion[4].state_dict())
        return new

    def input_shape(self) -> tuple[int, int, int]:
        return (self.num_sensors, self.num_axes, self.window_length)
