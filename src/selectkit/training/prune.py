"""``selectkit prune``: keep the best sensors at one rate, rebuild a smaller model, fine-tune, test.

Also for EEG channel selection checkpoints (:class:`~selectkit.training.eeg.ChannelSelectionModule`
with ``k`` Gumbel selection neurons): the frozen ``k`` channels are kept, the backbone is rebuilt
on them alone (input ``(B, k, T)``) with the trained weights, fine-tuned and tested; no budget
flag is needed (the budget is the model's ``k``).

The sensors are ranked by their CoSS weight scores and kept by count (``--sensors K``) or by a
data-rate budget (``--cost-budget`` bytes/s, greedy by score per cost). The rate is chosen on
validation data: for every candidate rate within ``--rate-budget`` the pruned network is
fine-tuned briefly and scored on the validation split, and the cheapest candidate within
``--tolerance`` macro-F1 of the best one wins. The test split is read once, at the end.

With ``score_mode: pair`` the sensors are ranked by their best (sensor, rate) pair; the rebuilt
network still streams every kept sensor at one common rate (per-sensor rates in the pruned model
are not implemented yet).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from sklearn.metrics import accuracy_score, f1_score

from selectkit.io import atomic_write_json, atomic_write_text
from selectkit.selection.ops import greedy_cost_indices
from selectkit.training.datamodule import HARDataModule
from selectkit.training.hparams import init_args
from selectkit.training.module import CoSSModule

__all__ = [
    "evaluate", "load_coss_checkpoint", "load_eeg_checkpoint", "prune_channels", "select_and_finetune", "save_pruned", "prune",
    "PruneOutcome", "finetune", "main",
]

log = logging.getLogger(__name__)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A ``selectkit fit`` checkpoint's contents, loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--ckpt {path}: file not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"--ckpt {path}: not a readable checkpoint ({type(err).__name__}: {err})") from None
    for key in ("state_dict", "hyper_parameters", "datamodule_hyper_parameters"):
        if key not in raw:
            raise ValueError(f"--ckpt {path}: missing {key!r}; expected a checkpoint written by `selectkit fit`")
    return raw


def is_eeg_checkpoint(raw: dict[str, Any]) -> bool:
    """A :class:`~selectkit.training.eeg.ChannelSelectionModule` checkpoint (by class path, else by its arguments)."""
    hp = raw["hyper_parameters"]
    path = hp.get("_class_path") or ""
    return path.endswith("ChannelSelectionModule") or (not path and "num_channels" in hp and "mode" not in hp)


def load_coss_checkpoint(path: str | Path) -> tuple[CoSSModule, HARDataModule]:
    """Model and data module of a ``selectkit fit`` checkpoint, loaded with ``weights_only=True``."""
    raw = read_checkpoint(path)
    try:
        module = CoSSModule(**init_args(raw["hyper_parameters"]))
        module.load_state_dict(raw["state_dict"])
    except (TypeError, RuntimeError, ValueError) as err:
        raise ValueError(f"--ckpt {path}: not a CoSSModule checkpoint or incompatible with this version ({err})") from None
    dm = HARDataModule(**init_args(raw["datamodule_hyper_parameters"]))
    if module.sensor_names != dm.sensor_names:
        raise ValueError(f"--ckpt {path}: model sensors {module.sensor_names} != data sensors {dm.sensor_names}")
    return module.eval(), dm


@torch.no_grad()
def evaluate(model: torch.nn.Module, dm: HARDataModule, stage: str) -> dict[str, float]:
    """Accuracy and macro-F1 (over the classes present) of ``model`` on a split."""
    model.eval()
    ds = dm.dataset(stage)
    preds = torch.cat([model(ds.tensors[0][i : i + 512]).argmax(-1) for i in range(0, len(ds), 512)])
    y = ds.tensors[1].numpy()
    p = preds.numpy()
    return {"acc": float(accuracy_score(y, p)), "macro_f1": float(f1_score(y, p, average="macro")), "n": int(len(y))}


def _pruned_module(full: CoSSModule, sensors: list[int], rate_index: int) -> CoSSModule:
    net = full.net.pruned(sensors, rate_index)
    hp = init_args(full.hparams)
    hp.update(
        num_sensors=len(sensors), window_length=net.window_length, input_rate=net.input_rate, rates=[net.input_rate],
        score_mode="none", sensor_names=[full.sensor_names[s] for s in sensors], sparsity=None, sparsity_weight=0.0,
        selector_data="train",
    )
    module = CoSSModule(**hp, optimizer=full.optimizer_factory)
    module.net.load_state_dict(net.state_dict())
    return module


def finetune(module: CoSSModule, dm: HARDataModule, epochs: int, workdir: Path, seed: int) -> CoSSModule:
    """Fine-tune on train, keep the epoch with the best validation macro-F1."""
    if epochs <= 0:
        return module.eval()
    pl.seed_everything(seed, workers=True, verbose=False)
    ckpt = pl.callbacks.ModelCheckpoint(dirpath=workdir, monitor="val/macro_f1", mode="max", filename="ft", save_weights_only=True)
    trainer = pl.Trainer(
        max_epochs=epochs, accelerator="cpu", devices=1, logger=False, callbacks=[ckpt], enable_progress_bar=False,
        enable_model_summary=False, deterministic=True, default_root_dir=workdir,
    )
    trainer.fit(module, datamodule=dm)
    if ckpt.best_model_path:
        state = torch.load(ckpt.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    return module.eval()


@dataclass
class Candidate:
    rate: float
    rate_index: int
    sensors: list[int]
    cost: float
    val: dict[str, float] | None = None


@dataclass
class PruneOutcome:
    """What :func:`select_and_finetune` chose and trained (nothing written to disk)."""

    report: dict[str, Any]
    module: CoSSModule
    datamodule: HARDataModule


def select_and_finetune(
    full: CoSSModule,
    dm: HARDataModule,
    *,
    sensors: int | None = None,
    cost_budget: float | None = None,
    rate_budget: float | None = None,
    tolerance: float = 0.01,
    search_epochs: int = 5,
    finetune_epochs: int = 20,
    seed: int = 0,
) -> PruneOutcome:
    """Choose sensors (by weight score) and rate (on validation), rebuild, fine-tune, test once."""
    if (sensors is None) == (cost_budget is None):
        raise ValueError("give exactly one budget: --sensors K or --cost-budget BYTES_PER_S")
    if full.hparams.score_mode == "none":
        raise ValueError("this model is already pruned (it has no weight scores)")
    net = full.net
    num = net.num_sensors
    if sensors is not None and not 1 <= sensors <= num:
        raise ValueError(f"--sensors {sensors} must be in [1, {num}] (the model has {num} sensors)")
    rates = [(i, r) for i, r in enumerate(net.rates) if rate_budget is None or r <= rate_budget + 1e-9]
    if not rates:
        raise ValueError(f"--rate-budget {rate_budget} Hz is below every candidate rate {net.rates}")
    started = time.perf_counter()
    dm.setup()
    sensor_scores = net.importance("sensor")
    ranking = net.sensor_ranking()
    all_cost = float(sum(dm.sensor_costs(net.input_rate)))

    candidates: list[Candidate] = []
    for ri, r in rates:
        costs = torch.tensor(dm.sensor_costs(r))
        if sensors is not None:
            kept = sorted(ranking[:sensors])
        else:
            if cost_budget < float(costs.min()):
                continue
            kept = greedy_cost_indices(sensor_scores.clamp_min(0), costs, cost_budget).tolist()
        candidates.append(Candidate(r, ri, kept, float(costs[kept].sum())))
    if not candidates:
        raise ValueError(f"--cost-budget {cost_budget} bytes/s is below the cheapest sensor at every candidate rate")

    before = {"val": evaluate(full.net, dm, "val"), "test": evaluate(full.net, dm, "test")}
    with tempfile.TemporaryDirectory(prefix="selectkit-prune-") as tmp:
        for c in candidates:
            sub = dm.restricted([dm.sensor_names[s] for s in c.sensors], c.rate)
            trial = finetune(_pruned_module(full, c.sensors, c.rate_index), sub, search_epochs, Path(tmp) / f"r{c.rate_index}", seed)
            c.val = evaluate(trial.net, sub, "val")
            log.info("candidate %s at %s Hz: val macro-F1 %.4f", c.sensors, c.rate, c.val["macro_f1"])
        best = max(c.val["macro_f1"] for c in candidates)
        good = [c for c in candidates if c.val["macro_f1"] >= best - tolerance]
        chosen = min(good, key=lambda c: (c.cost, -c.val["macro_f1"]))
        sub = dm.restricted([dm.sensor_names[s] for s in chosen.sensors], chosen.rate)
        pruned = finetune(_pruned_module(full, chosen.sensors, chosen.rate_index), sub, finetune_epochs, Path(tmp) / "final", seed)
    after = {"val": evaluate(pruned.net, sub, "val"), "test": evaluate(pruned.net, sub, "test")}
    kept_names = [dm.sensor_names[s] for s in chosen.sensors]
    report = {
        "dataset": dm.hparams.dataset,
        "budget": {"sensors": sensors, "cost_budget_bytes_per_s": cost_budget, "rate_budget_hz": rate_budget, "tolerance": tolerance},
        "sensor_ranking": [dm.sensor_names[i] for i in ranking],
        "kept_sensors": kept_names,
        "rate_hz": chosen.rate,
        "input_shape": [len(kept_names), sub.num_axes, sub.window_length],
        "full_input_shape": [num, dm.num_axes, dm.window_length],
        "cost_bytes_per_s": {"before": all_cost, "after": chosen.cost, "fraction": chosen.cost / all_cost, "reduction": 1 - chosen.cost / all_cost},
        "before": before,
        "after": after,
        "candidates": [
            {"rate_hz": c.rate, "sensors": [dm.sensor_names[s] for s in c.sensors], "cost_bytes_per_s": c.cost, "val_macro_f1": c.val["macro_f1"]}
            for c in candidates
        ],
        "split_notes": dm.split.notes,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return PruneOutcome(report, pruned, sub)


def save_pruned(outcome: PruneOutcome, out: Path) -> Path:
    """Write ``pruned.ckpt`` atomically (temp file, then rename); returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.strategy.connect(outcome.module)
    tmp_ckpt = out / ".pruned.ckpt.tmp"
    try:
        trainer.save_checkpoint(tmp_ckpt, weights_only=True)
        payload = torch.load(tmp_ckpt, map_location="cpu", weights_only=True)
        payload["datamodule_hyper_parameters"] = init_args(outcome.datamodule.hparams)
        torch.save(payload, tmp_ckpt)
        os.replace(tmp_ckpt, out / "pruned.ckpt")
    finally:
        tmp_ckpt.unlink(missing_ok=True)
    return out / "pruned.ckpt"


def load_eeg_checkpoint(path: str | Path):
    """:class:`~selectkit.training.eeg.ChannelSelectionModule` and its data module from a checkpoint."""
    from selectkit.training.eeg import ChannelSelectionModule, EEGDataModule

    raw = read_checkpoint(path)
    try:
        module = ChannelSelectionModule(**init_args(raw["hyper_parameters"], ChannelSelectionModule))
        module.load_state_dict(raw["state_dict"])
    except (TypeError, RuntimeError, ValueError) as err:
        raise ValueError(f"--ckpt {path}: not a ChannelSelectionModule checkpoint or incompatible with this version ({err})") from None
    dm = EEGDataModule(**init_args(raw["datamodule_hyper_parameters"]))
    if module.hparams.num_channels != dm.num_channels:
        raise ValueError(f"--ckpt {path}: the model expects {module.hparams.num_channels} channels, the data module gives {dm.num_channels}")
    return module.eval(), dm


def prune_channels(full, dm, *, finetune_epochs: int = 20, seed: int = 0) -> PruneOutcome:
    """Freeze an EEG channel selection, rebuild the backbone on the kept channels, fine-tune, test."""
    from selectkit.training.eeg import ChannelSelectionModule, EEGDataModule

    if full.net.selector is None:
        raise ValueError("this EEG model has no channel selector (k=None or fixed channels): nothing to prune")
    started = time.perf_counter()
    chosen = full.selected_channels()  # slot order = the backbone's channel order
    names = [dm.channel_names[i] for i in chosen]
    hp = init_args(full.hparams, ChannelSelectionModule)
    hp.update(num_channels=len(chosen), k=None, channels=None, channel_names=names, selector_data="train")
    pruned = ChannelSelectionModule(**hp, optimizer=full.optimizer_factory)
    pruned.net.backbone.load_state_dict(full.net.backbone.state_dict())
    sub = EEGDataModule(**{**init_args(dm.hparams), "channels": names})
    before = {"val": evaluate(full.net, dm, "val"), "test": evaluate(full.net, dm, "test")}
    with tempfile.TemporaryDirectory(prefix="selectkit-prune-") as tmp:
        pruned = finetune(pruned, sub, finetune_epochs, Path(tmp), seed)
    after = {"val": evaluate(pruned.net, sub, "val"), "test": evaluate(pruned.net, sub, "test")}
    report = {
        "dataset": dm.hparams.dataset,
        "kind": "eeg_channels",
        "kept_channels": names,
        "input_shape": [len(chosen), sub.num_times],
        "full_input_shape": [dm.num_channels, dm.num_times],
        "channel_fraction": len(chosen) / dm.num_channels,
        "converged": bool(full.net.selector.is_converged()),
        "before": before,
        "after": after,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return PruneOutcome(report, pruned, sub)


def prune(
    ckpt: str | Path,
    *,
    sensors: int | None = None,
    cost_budget: float | None = None,
    rate_budget: float | None = None,
    tolerance: float = 0.01,
    search_epochs: int = 5,
    finetune_epochs: int = 20,
    out: str | Path | None = None,
    force: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Prune a CoSS checkpoint to a budget, or an EEG channel-selection checkpoint to its ``k``
    channels; writes ``pruned.ckpt`` and the report into ``out``."""
    eeg = is_eeg_checkpoint(read_checkpoint(ckpt))
    if eeg and (sensors is not None or cost_budget is not None or rate_budget is not None):
        raise ValueError("an EEG channel-selection checkpoint keeps its model's k channels: drop --sensors / --cost-budget / --rate-budget")
    if not eeg and (sensors is None) == (cost_budget is None):
        raise ValueError("give exactly one budget: --sensors K or --cost-budget BYTES_PER_S")
    out = Path(out) if out is not None else Path(ckpt).resolve().parent.parent / "pruned"
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"--out {out} exists and is not empty; pass --force to overwrite")
    if eeg:
        full, dm = load_eeg_checkpoint(ckpt)
        outcome = prune_channels(full, dm, finetune_epochs=finetune_epochs, seed=seed)
    else:
        full, dm = load_coss_checkpoint(ckpt)
        outcome = select_and_finetune(
            full, dm, sensors=sensors, cost_budget=cost_budget, rate_budget=rate_budget, tolerance=tolerance,
            search_epochs=search_epochs, finetune_epochs=finetune_epochs, seed=seed,
        )
    report = {"checkpoint": str(ckpt), "pruned_checkpoint": str(save_pruned(outcome, out)), **outcome.report}
    atomic_write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", format_report(report))
    return report


def format_report(r: dict[str, Any]) -> str:
    if r.get("kind") == "eeg_channels":
        return "\n".join([
            "# Pruning report (EEG channels)",
            "",
            f"- kept channels: {', '.join(r['kept_channels'])} (selection converged: {r['converged']})",
            f"- model input: {tuple(r['full_input_shape'])} -> {tuple(r['input_shape'])} (channels, samples)",
            "",
            "| model | val acc | val macro-F1 | test acc | test macro-F1 |",
            "|---|---|---|---|---|",
            *(f"| {name} | {r[key]['val']['acc']:.4f} | {r[key]['val']['macro_f1']:.4f} | {r[key]['test']['acc']:.4f} | "
              f"{r[key]['test']['macro_f1']:.4f} |" for name, key in (("full", "before"), ("pruned", "after"))),
        ]) + "\n"
    c = r["cost_bytes_per_s"]
    lines = [
        "# Pruning report",
        "",
        f"- kept sensors: {', '.join(r['kept_sensors'])} at {r['rate_hz']:g} Hz (ranking: {', '.join(r['sensor_ranking'])})",
        f"- model input: {tuple(r['full_input_shape'])} -> {tuple(r['input_shape'])} (sensors, axes, samples)",
        f"- data rate: {c['before']:.0f} -> {c['after']:.0f} bytes/s ({100 * c['fraction']:.1f} % of all sensors at the highest rate; "
        f"reduction {100 * c['reduction']:.1f} %)",
        "",
        "| model | val acc | val macro-F1 | test acc | test macro-F1 |",
        "|---|---|---|---|---|",
        f"| full | {r['before']['val']['acc']:.4f} | {r['before']['val']['macro_f1']:.4f} | {r['before']['test']['acc']:.4f} | {r['before']['test']['macro_f1']:.4f} |",
        f"| pruned | {r['after']['val']['acc']:.4f} | {r['after']['val']['macro_f1']:.4f} | {r['after']['test']['acc']:.4f} | {r['after']['test']['macro_f1']:.4f} |",
        "",
        "Rate candidates (chosen on validation data: the cheapest within the tolerance of the best):",
        "",
        "| rate Hz | sensors | bytes/s | val macro-F1 |",
        "|---|---|---|---|",
    ]
    for cand in r["candidates"]:
        lines.append(f"| {cand['rate_hz']:g} | {', '.join(cand['sensors'])} | {cand['cost_bytes_per_s']:.0f} | {cand['val_macro_f1']:.4f} |")
    if r["split_notes"]:
        lines += ["", "Split notes: " + "; ".join(r["split_notes"])]
    return "\n".join(lines) + "\n"


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(prog="selectkit prune", description=__doc__)
    p.add_argument("--ckpt", required=True, help="checkpoint written by `selectkit fit` (CoSSModule, or ChannelSelectionModule: "
                   "keeps its k channels, no budget flag)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--sensors", type=int, help="keep the K best-ranked sensors")
    budget.add_argument("--cost-budget", type=float, help="keep sensors within this data rate (bytes/s)")
    p.add_argument("--rate-budget", type=float, help="highest sampling rate allowed (Hz)")
    p.add_argument("--tolerance", type=float, default=0.01, help="macro-F1 a cheaper rate may lose on validation (default 0.01)")
    p.add_argument("--search-epochs", type=int, default=5, help="fine-tuning epochs per rate candidate (default 5)")
    p.add_argument("--finetune-epochs", type=int, default=20, help="fine-tuning epochs of the chosen model (default 20)")
    p.add_argument("--out", help="output folder (default: RUN/pruned next to the checkpoint folder)")
    p.add_argument("--force", action="store_true", help="overwrite a non-empty output folder")
    p.add_argument("--seed", type=int, default=0)
    return p


def quiet_lightning() -> None:
    """Inner fine-tuning runs need no 'GPU available' banners; warnings still show."""
    for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(args: argparse.Namespace) -> int:
    quiet_lightning()
    report = prune(
        args.ckpt, sensors=args.sensors, cost_budget=args.cost_budget, rate_budget=args.rate_budget, tolerance=args.tolerance,
        search_epochs=args.search_epochs, finetune_epochs=args.finetune_epochs, out=args.out, force=args.force, seed=args.seed,
    )
    print(format_report(report))
    print(f"written: {Path(report['pruned_checkpoint']).parent}")
    return 0
