"""Callbacks: drive selector schedules, record the selection as training goes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from selectkit.io import atomic_write_json
from selectkit.selection import Selector

__all__ = ["SelectorAnnealing", "SelectionReport", "SelectionConverged"]

log = logging.getLogger(__name__)


class SelectorAnnealing(pl.Callback):
    """Calls ``anneal(progress)`` on every selector before each training batch.

    ``progress`` = optimiser steps done / steps planned, so temperature and threshold schedules
    (Gumbel-softmax 10 -> 0.1, duplicate threshold 3 -> 1.1) span the whole run.
    """

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        total = max(1, int(trainer.estimated_stepping_batches))
        progress = min(1.0, trainer.global_step / total)
        for m in pl_module.modules():
            if isinstance(m, Selector):
                m.anneal(progress)


class SelectionReport(pl.Callback):
    """Logs the current selection (rankings, scores) every epoch and writes ``selection.json``.

    The file in the run folder holds one entry per epoch, so a user can see when the ranking
    settled. Uses the module's ``selection_summary()``.
    """

    filename = "selection.json"

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        summary = getattr(pl_module, "selection_summary", lambda: {})()
        if not summary:
            return
        entry = {"epoch": trainer.current_epoch, "step": trainer.global_step, **summary}
        self.history.append(entry)
        # trainer.log_dir broadcasts under DDP: every rank must ask, not only rank 0.
        folder = Path(trainer.log_dir or trainer.default_root_dir)
        if trainer.is_global_zero:
            atomic_write_json(folder / self.filename, {"history": self.history, "last": entry})
            for key in ("sensor_ranking", "rate_ranking", "channels"):
                if key in summary:
                    log.info("epoch %d %s: %s", trainer.current_epoch, key, summary[key])

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # A picture of the final selection (EEG: kept channels on the scalp, node rates).
        plot = getattr(pl_module, "plot_selection", None)
        folder = Path(trainer.log_dir or trainer.default_root_dir)
        if plot is None or trainer.datamodule is None or not trainer.is_global_zero:
            return
        try:
            log.info("selection plot: %s", plot(trainer.datamodule, folder))
        except ValueError as exc:  # no channel positions: say why, do not fail the run
            log.warning("no selection plot: %s", exc)


class SelectionConverged(pl.Callback):
    """Stops training once every static selector with an ``is_converged`` test has settled.

    Strypsteen & Bertrand (2021) train until each selection neuron's distribution is (nearly)
    one-hot on a distinct channel; :meth:`~selectkit.selection.GumbelTopK.is_converged` tests
    exactly that (mean normalised entropy below ``threshold``, no channel shared). Checked at
    the end of each training epoch after ``min_epochs``; the epoch is recorded in
    ``converged_epoch``.
    """

    def __init__(self, threshold: float = 0.05, min_epochs: int = 1) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold={threshold!r} must be in (0, 1)")
        self.threshold = threshold
        self.min_epochs = min_epochs
        self.converged_epoch: int | None = None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        tests = [m.is_converged for m in pl_module.modules() if isinstance(m, Selector) and hasattr(m, "is_converged")]
        if not tests or trainer.current_epoch + 1 < self.min_epochs:
            return
        if all(test(self.threshold) for test in tests):
            self.converged_epoch = trainer.current_epoch
            log.info("selection converged at epoch %d; stopping", trainer.current_epoch)
            trainer.should_stop = True
