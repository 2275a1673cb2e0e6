"""SelectionModule: where the selectors learn from (``selector_data``)."""

import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from selectkit.selection import WeightScores
from selectkit.training.module import SelectionModule


def _shortcut_split(n: int, shortcut: bool, generator: torch.Generator) -> TensorDataset:
    """Item 0 carries the label strongly when ``shortcut`` (training intervals) and is noise otherwise;
    item 1 carries it weakly everywhere; items 2, 3 are noise. ``x``: ``(n, 4, 8)``."""
    y = torch.randint(0, 2, (n,), generator=generator)
    sign = (2 * y - 1).float()[:, None]
    x = torch.randn(n, 4, 8, generator=generator)
    x[:, 1] += 0.5 * sign
    if shortcut:
        x[:, 0] += 1.0 * sign
    return TensorDataset(x, y)


class _ShortcutData(pl.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.train, self.val = _shortcut_split(256, True, g), _shortcut_split(256, False, g)

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=64)


def _fit(selector_data: str) -> torch.Tensor:
    pl.seed_everything(0, verbose=False)
    net = nn.Sequential(WeightScores(4, dim=1, activation="softmax"), nn.Flatten(), nn.Linear(32, 2))
    # WeightScores returns (x, selection); keep the tensor.
    net[0].register_forward_hook(lambda mod, inp, out: out[0])
    module = SelectionModule(net, 2, lambda p: torch.optim.Adam(p, lr=0.05), selector_data=selector_data)
    trainer = pl.Trainer(
        max_epochs=10, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=_ShortcutData())
    return net[0].score(None).detach()


def test_scores_learned_on_validation_avoid_a_training_only_shortcut():
    on_train, on_val = _fit("train"), _fit("val")
    # Trained jointly, the scores follow the shortcut; trained on held-out data, the real signal.
    assert on_train.argmax() == 0, on_train
    assert on_val.argmax() == 1, on_val
    assert on_val[1] > on_val[0] + 0.5, on_val


def test_selector_data_errors():
    with pytest.raises(ValueError, match="selector_data"):
        SelectionModule(nn.Linear(4, 2), 2, selector_data="test")
    module = SelectionModule(nn.Sequential(nn.Flatten(), nn.Linear(32, 2)), 2, selector_data="val")
    trainer = pl.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0)
    with pytest.raises(ValueError, match="no trainable input-independent selector"):
        trainer.fit(module, datamodule=_ShortcutData())
