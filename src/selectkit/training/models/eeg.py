"""EEG backbones with channel selection (static) and node selection (dynamic).

* :class:`EEGNet` -- the compact CNN of Lawhern et al. (J. Neural Eng. 2018, arXiv:1611.08024):
  temporal convolution, depthwise spatial convolution, separable convolution, linear head.
* :class:`ChannelSelectNet` -- :class:`~selectkit.selection.GumbelTopK` in front of an EEGNet
  (Strypsteen & Bertrand 2021, arXiv:2102.09050): ``K`` selection neurons pick ``K`` of ``C``
  channels; the backbone sees ``K`` channels, so after freezing the same backbone runs on the
  kept channels alone.
* :class:`NodeSelectNet` -- per-trial node selection (Strypsteen & Bertrand 2023,
  arXiv:2308.08379): a scorer (centralised, or distributed: per-node features, shared head) opens
  :class:`~selectkit.selection.GumbelGates` over the network's nodes under a transmission budget;
  the masked channels pass a dynamic spatial filter (Banville et al. 2022: covariance -> MLP ->
  channel mixing matrix + bias, residual) into an EEGNet. ``mode="static"`` picks a fixed node
  subset with GumbelTopK instead -- the comparison at the same average number of nodes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from selectkit.selection import GumbelGates, GumbelTopK
from selectkit.validation import check_choice

__all__ = ["EEGNet", "ChannelSelectNet", "NodeSelectNet", "DistributedScorer", "CentralisedScorer", "DynamicSpatialFilter"]


def _check_int(value, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name}={value!r} must be an integer >= {low}")
    return value


class EEGNet(nn.Module):
    """EEGNet-8,2 (Lawhern et al. 2018). Input ``(B, C, T)``, output ``(B, num_classes)`` logits.

    Args:
        num_channels, num_times: ``C`` and ``T`` of the input.
        sfreq: sampling rate; the temporal kernel spans half a second (at least 3 samples).
        f1, depth, f2: temporal filters, spatial filters per temporal filter, separable filters.
        dropout: dropout after each block (0.25 within-subject in the paper; 0.5 cross-subject).
    """

    def __init__(self, num_channels: int, num_times: int, num_classes: int, sfreq: float = 128.0, f1: int = 8,
                 depth: int = 2, f2: int = 16, dropout: float = 0.25) -> None:
        super().__init__()
        self.num_channels = _check_int(num_channels, "num_channels")
        self.num_times = _check_int(num_times, "num_times")
        _check_int(num_classes, "num_classes", 2)
        kernel = max(3, int(round(sfreq / 2)) | 1)  # odd, so 'same' padding is symmetric
        kernel = min(kernel, num_times | 1)
        pool1 = 4 if num_times >= 8 else 1
        t1 = num_times // pool1
        pool2 = max(1, min(8, t1 // 2))
        self.features = nn.Sequential(
            nn.Conv2d(1, f1, (1, kernel), padding=(0, kernel // 2), bias=False),
            nn.BatchNorm2d(f1),
            nn.Conv2d(f1, f1 * depth, (num_channels, 1), groups=f1, bias=False),
            nn.BatchNorm2d(f1 * depth),
            nn.ELU(),
            nn.AvgPool2d((1, pool1)),
            nn.Dropout(dropout),
            nn.Conv2d(f1 * depth, f1 * depth, (1, 15), padding=(0, 7), groups=f1 * depth, bias=False),
            nn.Conv2d(f1 * depth, f2, 1, bias=False),
            nn.BatchNorm2d(f2),
            nn.ELU(),
            nn.AvgPool2d((1, pool2)),
            nn.Dropout(dropout),
        )
        self.head = nn.Linear(f2 * (t1 // pool2), num_classes)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[1] != self.num_channels or x.shape[2] != self.num_times:
            raise ValueError(f"EEGNet expects (B, C={self.num_channels}, T={self.num_times}), got {tuple(x.shape)}")
        return self.head(self.features(x.unsqueeze(1)).flatten(1))


class ChannelSelectNet(nn.Module):
    """``K`` of ``C`` channels by Gumbel-softmax selection neurons, then an EEGNet on ``K``.

    Input ``(B, C, T)``; with ``k=None`` every channel goes to the backbone (the all-channels
    baseline), with ``channels`` a fixed subset is gathered (a pruned model, or MI / random
    baselines). Selector arguments as :class:`~selectkit.selection.GumbelTopK`.
    """

    def __init__(self, num_channels: int, num_times: int, num_classes: int, sfreq: float = 128.0, k: int | None = None,
                 channels: list[int] | None = None, temperature: tuple[float, float] = (10.0, 0.1),
                 threshold: tuple[float, float] = (3.0, 1.1), penalty_weight: float = 1.0, straight_through: bool = False,
                 f1: int = 8, depth: int = 2, f2: int = 16, dropout: float = 0.25) -> None:
        super().__init__()
        _check_int(num_channels, "num_channels")
        if k is not None and channels is not None:
            raise ValueError(f"give k (learn a selection) or channels (a fixed subset), not both: k={k}, channels={channels}")
        self.num_channels = num_channels
        self.selector = None
        if k is not None:
            if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= num_channels:
                raise ValueError(f"k={k!r} must be an integer in 1..{num_channels} (the channel count)")
            self.selector = GumbelTopK(num_channels, k=k, dim=1, temperature=tuple(temperature), threshold=tuple(threshold),
                                       penalty_weight=penalty_weight, straight_through=straight_through)
            width = k
        elif channels is not None:
            bad = [c for c in channels if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < num_channels]
            if bad or not channels or len(set(channels)) != len(channels):
                raise ValueError(f"channels={channels!r} must be distinct indices in 0..{num_channels - 1}")
            width = len(channels)
        else:
            width = num_channels
        self.register_buffer("channels", torch.tensor(channels if channels is not None else [], dtype=torch.long))
        self.backbone = EEGNet(width, num_times, num_classes, sfreq, f1, depth, f2, dropout)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[1] != self.num_channels:
            raise ValueError(f"expected (B, C={self.num_channels}, T) trials, got {tuple(x.shape)}")
        if self.selector is not None:
            x, _ = self.selector(x)
        elif self.channels.numel():
            x = x[:, self.channels]
        return self.backbone(x)


def _log_power(x: Tensor) -> Tensor:
    """``(..., T)`` -> ``(...)`` log of the mean square (band power of a filtered signal)."""
    return torch.log((x * x).mean(-1) + 1e-6)


class DistributedScorer(nn.Module):
    """Each node scores itself from its own channels only: node-specific spatial filters -> log
    power -> a small head shared by all nodes. Input ``(B, N, G*T)`` (``G`` channel slots per
    node), output ``(B, N)`` logits. What a node can compute before deciding to transmit."""

    def __init__(self, num_nodes: int, slots: int, num_times: int, features: int = 4, hidden: int = 16) -> None:
        super().__init__()
        self.slots, self.num_times, self.features = slots, num_times, features
        # One grouped 1x1 convolution = a separate (features x G) spatial filter per node.
        self.spatial = nn.Conv1d(num_nodes * slots, num_nodes * features, 1, groups=num_nodes)
        self.head = nn.Sequential(nn.Linear(features, hidden), nn.ELU(), nn.Linear(hidden, 1))

    def forward(self, items: Tensor) -> Tensor:
        b, n, _ = items.shape
        z = self.spatial(items.reshape(b, n * self.slots, self.num_times))
        feats = _log_power(z.reshape(b, n, self.features, self.num_times))  # (B, N, F)
        return self.head(feats).squeeze(-1)


class CentralisedScorer(nn.Module):
    """One scorer sees every channel: spatial filters over all channels -> log power -> MLP ->
    one logit per node. Input ``(B, N, G*T)``, output ``(B, N)``."""

    def __init__(self, num_nodes: int, slots: int, num_times: int, features: int = 16, hidden: int = 32) -> None:
        super().__init__()
        self.slots, self.num_times = slots, num_times
        self.spatial = nn.Conv1d(num_nodes * slots, features, 1)
        self.head = nn.Sequential(nn.Linear(features, hidden), nn.ELU(), nn.Linear(hidden, num_nodes))

    def forward(self, items: Tensor) -> Tensor:
        b, n, _ = items.shape
        return self.head(_log_power(self.spatial(items.reshape(b, n * self.slots, self.num_times))))


class DynamicSpatialFilter(nn.Module):
    """Banville et al. (NeuroImage 2022): the channel covariance of each trial drives a channel
    mixing ``x + W(x) x + b(x)``, so the network re-weights the channels that are present.
    Input / output ``(B, C, T)``; starts as the identity (last layer zero)."""

    def __init__(self, num_channels: int, hidden: int = 32) -> None:
        super().__init__()
        self.c = num_channels
        rows, cols = torch.triu_indices(num_channels, num_channels)
        self.register_buffer("rows", rows)
        self.register_buffer("cols", cols)
        self.mlp = nn.Sequential(nn.Linear(rows.numel(), hidden), nn.ELU(), nn.Linear(hidden, num_channels * (num_channels + 1)))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, x: Tensor) -> Tensor:
        xc = x - x.mean(-1, keepdim=True)
        cov = xc @ xc.transpose(1, 2) / x.shape[-1]
        out = self.mlp(cov[:, self.rows, self.cols])
        w = out[:, : self.c * self.c].reshape(-1, self.c, self.c)
        bias = out[:, self.c * self.c:].unsqueeze(-1)
        return x + w @ x + bias


class NodeSelectNet(nn.Module):
    """Per-trial (``mode="dynamic"``) or fixed (``"static"``) selection of sensor-network nodes.

    Input ``(B, C, T)``; ``nodes`` lists each node's channel indices. Channels are packed per
    node into ``(B, N, G, T)`` (``G`` = largest node, zero-padded) so one selector acts on nodes.

    * dynamic: :class:`~selectkit.selection.GumbelGates` (``target_rate`` = mean fraction of
      nodes transmitting -- with ``fixed_count`` every trial opens exactly its top
      ``round(target_rate * N)`` nodes, else each gate decides alone --, ``budget_mode="max"``
      penalises the busiest node's rate above the target), scorer ``"distributed"``
      or ``"centralised"``, then the closed nodes' channels are zero, a
      :class:`DynamicSpatialFilter` (``spatial_filter=True``) and an EEGNet on all ``C`` channels.
    * static: :class:`~selectkit.selection.GumbelTopK` keeps ``round(target_rate * N)`` nodes;
      the EEGNet sees their ``k * G`` channel slots.

    ``last_mask`` holds the latest ``(B, N)`` hard node choice (transmission reports).
    """

    def __init__(self, num_channels: int, num_times: int, num_classes: int, nodes: list[list[int]], sfreq: float = 128.0,
                 mode: str = "dynamic", target_rate: float = 0.5, fixed_count: bool = True, scorer: str = "distributed",
                 budget_mode: str = "max",
                 penalty_weight: float = 10.0, spatial_filter: bool = True, temperature: tuple[float, float] = (1.0, 1.0),
                 f1: int = 8, depth: int = 2, f2: int = 16, dropout: float = 0.25) -> None:
        super().__init__()
        from selectkit.datasets.eeg import check_nodes

        nodes = check_nodes(nodes, num_channels)
        self.nodes = nodes
        self.mode = check_choice(mode, "mode", ("dynamic", "static"))
        self.num_channels, self.num_times, self.num_nodes = num_channels, num_times, len(nodes)
        if not 0.0 < float(target_rate) <= 1.0:
            raise ValueError(f"target_rate={target_rate!r} must be in (0, 1]")
        self.target_rate = float(target_rate)
        slots = max(len(n) for n in nodes)
        self.slots = slots
        # (N, G) channel index per slot; C points at an appended zero channel (padding).
        pack = torch.full((len(nodes), slots), num_channels, dtype=torch.long)
        for i, node in enumerate(nodes):
            pack[i, : len(node)] = torch.tensor(node)
        self.register_buffer("pack", pack)
        self.register_buffer("node_of_channel", torch.tensor([i for c in range(num_channels) for i, n in enumerate(nodes) if c in n]))
        self.last_mask: Tensor | None = None
        if self.mode == "dynamic":
            scorer = check_choice(scorer, "scorer", ("distributed", "centralised"))
            net = (DistributedScorer if scorer == "distributed" else CentralisedScorer)(len(nodes), slots, num_times)
            # fixed_count: each trial opens its top round(rate * N) gates (Gumbel top-k while
            # training), so the mean rate is exact and the penalty only balances the nodes (no
            # node sent in a larger share of the batch than the target); the nodes send one
            # score each and a fusion centre ranks them. Otherwise each gate decides alone (no
            # exchange at all) and the penalty holds the rate down.
            budget = {"k": max(1, round(self.target_rate * len(nodes)))} if fixed_count else {"target_rate": self.target_rate}
            self.selector = GumbelGates(len(nodes), **budget, dim=1, scorer=net, budget_mode=budget_mode,
                                        penalty_weight=penalty_weight, temperature=tuple(temperature))
            self.spatial = DynamicSpatialFilter(num_channels) if spatial_filter else nn.Identity()
            width = num_channels
        else:
            k = max(1, round(self.target_rate * len(nodes)))
            self.selector = GumbelTopK(len(nodes), k=k, dim=1)
            self.spatial = nn.Identity()
            width = k * slots
        self.backbone = EEGNet(width, num_times, num_classes, sfreq, f1, depth, f2, dropout)

    def packed(self, x: Tensor) -> Tensor:
        """``(B, C, T)`` -> ``(B, N, G*T)`` channels grouped by node, zero-padded."""
        padded = torch.cat([x, x.new_zeros(x.shape[0], 1, x.shape[2])], dim=1)
        return padded[:, self.pack].flatten(2)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[1] != self.num_channels or x.shape[2] != self.num_times:
            raise ValueError(f"expected (B, C={self.num_channels}, T={self.num_times}) trials, got {tuple(x.shape)}")
        out, selection = self.selector(self.packed(x))
        if self.mode == "static":
            self.last_mask = selection.mask.detach().expand(x.shape[0], -1)
            return self.backbone(out.reshape(x.shape[0], -1, self.num_times))
        self.last_mask = selection.mask.detach()
        # Gate each channel by its node's (straight-through) gate.
        gates = selection.weights[:, self.node_of_channel].unsqueeze(-1)  # (B, C, 1)
        return self.backbone(self.spatial(x * gates))

    def node_rates(self) -> Tensor:
        """``(N,)`` fraction of the latest batch's trials in which each node transmitted."""
        if self.last_mask is None:
            raise ValueError("node_rates() needs a forward pass first")
        return self.last_mask.float().mean(0)
