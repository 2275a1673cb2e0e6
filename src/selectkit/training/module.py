"""LightningModules: a generic selection-aware classifier and the CoSS one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.cli import OptimizerCallable
from torch import Tensor, nn
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from selectkit.selection import Selector
from selectkit.training.models.coss import CoSSNet
from selectkit.validation import check_choice

__all__ = ["SelectionModule", "CoSSModule"]


def _adam(params) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=1e-3)


class SelectionModule(pl.LightningModule):
    """Classifier around a network that contains selectors.

    The loss is cross-entropy plus every selector's :meth:`~selectkit.selection.Selector.regularization`
    (duplicate, budget or sparsity penalties); accuracy and macro-F1 are logged per stage as
    ``{stage}/acc`` and ``{stage}/macro_f1``.

    Args:
        net: ``(B, ...) -> (B, num_classes)`` logits.
        num_classes: number of classes.
        optimizer: a callable ``params -> Optimizer`` (LightningCLI fills it from YAML).
        selector_data: where the input-independent selectors' parameters (weight scores, Gumbel
            logits) learn from. ``"train"``: jointly with the network on the training batches
            (CoSS as published). ``"val"``: from validation batches while the network weights
            learn from training batches, a first-order bi-level step as in DARTS (Liu et al.,
            arXiv:1806.09055). With few recording sessions or intervals a network can fit the
            training intervals through features that do not carry over (a magnetometer's fixed
            orientation within an interval); scores learned on held-out windows reward the
            sensors that generalise instead -- best with whole held-out intervals
            (``val_mode="interval"``) where the data has enough of them to spare. The validation
            split then serves both the scores and checkpoint selection.
        selector_lr_scale: the selector parameters' learning rate as a multiple of the
            network's. Gumbel selection logits must travel much farther than a weight does
            before a neuron's softmax at the final temperature is one-hot, and a short run may
            leave them undecided; but a larger rate makes the choice greedy (in exploratory runs
            on the synthetic EEG set, 3x lost one of three informative channels that 1x found
            over 300 epochs). Prefer more epochs.
    """

    def __init__(
        self, net: nn.Module, num_classes: int, optimizer: OptimizerCallable = _adam, selector_data: str = "train",
        selector_lr_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if not selector_lr_scale > 0:
            raise ValueError(f"selector_lr_scale={selector_lr_scale!r} must be > 0")
        self.selector_lr_scale = float(selector_lr_scale)
        self.net = net
        self.num_classes = num_classes
        self.optimizer_factory = optimizer
        self.selector_data = check_choice(selector_data, "selector_data", ("train", "val"))
        self._selector_batches = None
        self._selector_grads: list[Tensor] | None = None
        self.metrics = nn.ModuleDict(
            {
                f"{stage}_{name}": metric
                for stage in ("train", "val", "test")
                for name, metric in (
                    ("acc", MulticlassAccuracy(num_classes, average="micro")),
                    ("macro_f1", MulticlassF1Score(num_classes, average="macro")),
                )
            }
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def selectors(self) -> dict[str, Selector]:
        return {name: m for name, m in self.net.named_modules() if isinstance(m, Selector)}

    def regularization(self) -> Tensor:
        regs = [s.regularization() for s in self.selectors().values()]
        return torch.stack(regs).sum() if regs else torch.zeros((), device=self.device)

    def selector_parameters(self) -> list[nn.Parameter]:
        """Parameters of the input-independent selectors (what ``selector_data`` routes)."""
        return [p for s in self.selectors().values() if not s.input_dependent for p in s.parameters() if p.requires_grad]

    def on_fit_start(self) -> None:
        # A new fit may bring a new data module: draw validation batches from its split.
        self._selector_batches = None

    def _next_selector_batch(self) -> tuple[Tensor, Tensor]:
        """A shuffled validation batch, cycling through the validation set."""
        if self._selector_batches is None:
            dm = getattr(self.trainer, "datamodule", None)
            if dm is None or not hasattr(dm, "val_dataloader"):
                raise ValueError("selector_data='val' needs a LightningDataModule with a val_dataloader")
            val = dm.val_dataloader()
            g = torch.Generator().manual_seed(int(torch.initial_seed()) % 2**31)
            loader = DataLoader(val.dataset, batch_size=val.batch_size, shuffle=True, generator=g)
            if len(loader) == 0:
                raise ValueError("selector_data='val' needs a non-empty validation split")

            def cycle():
                while True:
                    yield from loader

            self._selector_batches = cycle()
        x, y = next(self._selector_batches)
        return x.to(self.device), y.to(self.device)

    def _selector_step(self) -> None:
        """Gradients of the validation loss (plus selector penalties) w.r.t. the selector
        parameters only; :meth:`on_after_backward` puts them in place of the training ones."""
        params = self.selector_parameters()
        if not params:
            raise ValueError("selector_data='val' but the network has no trainable input-independent selector")
        x, y = self._next_selector_batch()
        loss = F.cross_entropy(self(x), y) + self.regularization()
        self._selector_grads = list(torch.autograd.grad(loss, params))
        self.log("train/selector_val_loss", loss.detach(), on_step=False, on_epoch=True, batch_size=len(y), sync_dist=True)

    def on_after_backward(self) -> None:
        if self._selector_grads is None:
            return
        for p, g in zip(self.selector_parameters(), self._selector_grads):
            # Under DDP the training gradients were averaged during backward; these were not.
            p.grad = self.trainer.strategy.reduce(g, reduce_op="mean") if self.trainer.world_size > 1 else g
        self._selector_grads = None

    def _common_step(self, batch: Sequence[Tensor], stage: str) -> Tensor:
        x, y = batch[0], batch[1]
        logits = self(x)
        ce = F.cross_entropy(logits, y)
        loss = ce + self.regularization() if stage == "train" else ce
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss, on_step=on_step, on_epoch=True, prog_bar=stage != "train", batch_size=len(y), sync_dist=True)
        for name in ("acc", "macro_f1"):
            metric = self.metrics[f"{stage}_{name}"]
            metric.update(logits.detach(), y)
            self.log(f"{stage}/{name}", metric, on_step=False, on_epoch=True, prog_bar=name == "macro_f1" and stage != "train")
        return loss

    def training_step(self, batch, batch_idx):
        if self.selector_data == "val":
            self._selector_step()
        return self._common_step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._common_step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._common_step(batch, "test")

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0):
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self(x).argmax(-1)

    def configure_optimizers(self):
        if self.selector_lr_scale == 1.0:
            return self.optimizer_factory(self.parameters())
        selector = self.selector_parameters()
        ids = {id(p) for p in selector}
        rest = [p for p in self.parameters() if id(p) not in ids]
        optimizer = self.optimizer_factory([{"params": rest}, {"params": selector}])
        optimizer.param_groups[1]["lr"] = optimizer.param_groups[0]["lr"] * self.selector_lr_scale
        return optimizer

    def selection_summary(self) -> dict[str, Any]:
        """Ranking and scores of every input-independent selector (for logs and reports)."""
        out: dict[str, Any] = {}
        for name, sel in self.selectors().items():
            if sel.input_dependent:
                continue
            with torch.no_grad():
                out[name] = {"ranking": sel.ranking().tolist(), "scores": [round(float(v), 5) for v in sel.score(None)]}
        return out


class CoSSModule(SelectionModule):
    """CoSS (sensor and sampling-rate weight scores) as a LightningModule.

    The data-dependent sizes (``num_sensors``, ``num_axes``, ``window_length``, ``input_rate``,
    ``num_classes``, ``sensor_names``) are linked from the data module by the CLI, so configs
    never repeat them. See :class:`~selectkit.training.models.CoSSNet` for the rest.
    """

    def __init__(
        self,
        num_sensors: int,
        num_axes: int,
        window_length: int,
        input_rate: float,
        num_classes: int,
        sensor_names: list[str] | None = None,
        class_names: list[str] | None = None,
        rates: list[float] | None = None,
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
        selector_data: str = "train",
        optimizer: OptimizerCallable = _adam,
    ) -> None:
        if sensor_names is not None and len(sensor_names) != num_sensors:
            raise ValueError(f"sensor_names has {len(sensor_names)} names, expected num_sensors={num_sensors}")
        net = CoSSNet(
            num_sensors, num_axes, window_length, input_rate, num_classes, rates=rates, channels=channels,
            feature_dim=feature_dim, kernel_size=kernel_size, hidden=hidden, dropout=dropout, score_mode=score_mode,
            score_activation=score_activation, sparsity=sparsity, sparsity_weight=sparsity_weight, pooling=pooling,
        )
        super().__init__(net, num_classes, optimizer, selector_data)
        self.save_hyperparameters(ignore=["optimizer"])
        self.sensor_names = list(sensor_names) if sensor_names is not None else [f"sensor_{i}" for i in range(num_sensors)]
        self.class_names = list(class_names) if class_names is not None else None

    def selection_summary(self) -> dict[str, Any]:
        net: CoSSNet = self.net
        w, imp = net.item_weights()
        return {
            "sensor_ranking": [self.sensor_names[i] for i in net.sensor_ranking()],
            "rate_ranking": [net.rates[i] for i in net.rate_ranking()],
            "pair_weights": {
                self.sensor_names[s]: {str(net.rates[r]): round(float(w[s, r]), 5) for r in range(net.num_rates)}
                for s in range(net.num_sensors)
            },
        }
