"""The Lightning CLI on the shipped configs, the synthetic ground truth, pruning, and DDP."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from selectkit.cli import main
from selectkit.training.prune import load_coss_checkpoint, prune

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_fast_dev_run_on_every_shipped_config(config, tmp_path):
    main(["fit", "--config", str(config), "--trainer.fast_dev_run", "true", "--trainer.default_root_dir", str(tmp_path),
          "--trainer.enable_progress_bar", "false"])


@pytest.mark.parametrize(
    "override, match",
    [
        (["--data.init_args.sensors", "[wrist_acc,belt_acc]"], r"unknown sensor names \['belt_acc'\]"),
        (["--data.init_args.window_s", "500"], "window_s=500.0 is longer than the longest labelled interval"),
        (["--model.init_args.rates", "[100,30]"], "rate 30.0 Hz is not input_rate=100.0"),
    ],
)
def test_bad_config_values_are_clear(override, match, tmp_path):
    cfg = str(ROOT / "configs" / "har" / "synthetic_coss.yaml")
    with pytest.raises(Exception, match=match):
        main(["fit", "--config", cfg, "--trainer.fast_dev_run", "true", "--trainer.default_root_dir", str(tmp_path), *override])


def test_synthetic_ground_truth_ranking_and_selection_report(synthetic_run):
    module, dm = load_coss_checkpoint(synthetic_run)
    ranking = [dm.sensor_names[i] for i in module.net.sensor_ranking()]
    assert set(ranking[:2]) == {"wrist_acc", "ankle_acc"}, ranking
    report = json.loads(next(synthetic_run.parents[1].rglob("selection.json")).read_text())
    assert report["history"] and set(report["last"]["sensor_ranking"][:2]) == {"wrist_acc", "ankle_acc"}


def test_prune_finds_the_sensors_and_the_lowest_sufficient_rate(synthetic_run, tmp_path):
    report = prune(synthetic_run, sensors=2, search_epochs=5, finetune_epochs=5, out=tmp_path / "p")
    assert set(report["kept_sensors"]) == {"wrist_acc", "ankle_acc"}
    assert report["rate_hz"] == 25.0
    assert report["input_shape"] == [2, 3, 64]  # 2 sensors x 3 axes x (2.56 s at 25 Hz)
    assert report["cost_bytes_per_s"]["after"] == 2 * 3 * 2 * 25.0
    assert report["after"]["test"]["macro_f1"] > 0.9
    pruned, dm = load_coss_checkpoint(tmp_path / "p" / "pruned.ckpt")
    x = dm.dataset("test").tensors[0]
    assert x.shape[1:] == (2, 3, 64)
    assert pruned(x[:4]).shape == (4, dm.num_classes)
    assert (tmp_path / "p" / "report.md").read_text().startswith("# Pruning report")
    with pytest.raises(FileExistsError, match="--force"):
        prune(synthetic_run, sensors=2, out=tmp_path / "p")


def test_prune_by_cost_budget(synthetic_run, tmp_path):
    report = prune(synthetic_run, cost_budget=400.0, rate_budget=50.0, search_epochs=2, finetune_epochs=2, out=tmp_path / "c")
    assert report["cost_bytes_per_s"]["after"] <= 400.0
    assert report["rate_hz"] <= 50.0


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"sensors": 7}, ValueError, r"--sensors 7 must be in \[1, 6\]"),
        ({"sensors": 2, "rate_budget": 5.0}, ValueError, "--rate-budget 5.0 Hz is below every candidate rate"),
        ({"cost_budget": 10.0}, ValueError, "--cost-budget 10.0 bytes/s is below the cheapest sensor"),
        ({}, ValueError, "exactly one budget"),
    ],
)
def test_prune_bad_budgets(synthetic_run, tmp_path, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        prune(synthetic_run, out=tmp_path / "x", **kwargs)


def test_prune_bad_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="--ckpt"):
        prune(tmp_path / "missing.ckpt", sensors=1)
    bad = tmp_path / "bad.ckpt"
    torch.save({"state_dict": {}}, bad)
    with pytest.raises(ValueError, match="missing 'hyper_parameters'"):
        prune(bad, sensors=1)


def test_ddp_two_processes_on_cpu(tmp_path):
    cfg = str(ROOT / "configs" / "har" / "synthetic_coss.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "selectkit", "fit", "--config", cfg, "--trainer.strategy", "ddp", "--trainer.devices", "2",
         "--trainer.max_steps", "3", "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false",
         # Scores learned from validation batches: their gradients are all-reduced by hand.
         "--model.init_args.selector_data", "val",
         "--trainer.logger.init_args.save_dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "max_steps=3" in proc.stderr + proc.stdout
