from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from selectkit.training.datamodule import HARDataModule
from selectkit.training.module import CoSSModule
from selectkit.training.prune import PruneOutcome, save_pruned

#: The informative sensors of the synthetic network at its lowest sufficient rate.
SENSORS = ["wrist_acc", "ankle_acc"]
RATE = 25.0


@pytest.fixture(scope="session")
def pruned_ckpt(tmp_path_factory) -> Path:
    """A pruned CoSS checkpoint (2 synthetic sensors at 25 Hz) in the format ``selectkit prune`` writes.

    The pruned network is trained directly (plain Adam loop, a few seconds) instead of fit +
    prune: export only needs a trained pruned model, and the synthetic classes are separable,
    so int8 agreement measures the export, not a coin-flip model.
    """
    dm = HARDataModule(dataset="synthetic", rate=100.0, n_folds=3, batch_size=32).restricted(SENSORS, RATE)
    module = CoSSModule(
        num_sensors=len(SENSORS), num_axes=dm.num_axes, window_length=dm.window_length, input_rate=RATE,
        num_classes=dm.num_classes, sensor_names=SENSORS, class_names=dm.class_names, rates=[RATE], score_mode="none",
        pooling="meanmax",
    )
    torch.manual_seed(0)
    x, y = dm.dataset("train").tensors
    opt = torch.optim.Adam(module.parameters(), lr=3e-3)
    module.train()
    for _ in range(15):
        for idx in torch.randperm(len(x)).split(32):
            opt.zero_grad()
            F.cross_entropy(module(x[idx]), y[idx]).backward()
            opt.step()
    return save_pruned(PruneOutcome({}, module.eval(), dm), tmp_path_factory.mktemp("export_run"))
