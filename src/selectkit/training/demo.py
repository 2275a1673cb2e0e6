"""The main job end to end: fit CoSS on CrowdSignals, prune to a budget, test, export int8, summarise."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from selectkit.training.prune import prune, quiet_lightning

__all__ = ["default_config", "run_demo", "run_from_args", "export_rows", "build_parser", "main"]


def default_config() -> Path:
    """``configs/har/crowdsignals_coss.yaml`` of the source checkout."""
    path = Path(__file__).resolve().parents[3] / "configs" / "har" / "crowdsignals_coss.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run from a source checkout or pass --config")
    return path


def run_demo(
    config: Path, root: Path, *, sensors: int | None, cost_budget: float | None, epochs: int | None,
    finetune_epochs: int, search_epochs: int, seed: int, board: str = "nano33ble",
) -> dict:
    """Fit, prune, then export the pruned model into ``RUN/export``; the prune report with the
    export report under ``"export"``."""
    from selectkit.export import export
    from selectkit.training.cli import run_lightning_cli

    args = [
        "fit", "--config", str(config), "--seed_everything", str(seed),
        "--trainer.default_root_dir", str(root), "--trainer.logger.init_args.save_dir", str(root),
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
    ]
    if epochs is not None:
        args += ["--trainer.max_epochs", str(epochs)]
    import warnings

    # The demo drives LightningCLI from Python on purpose; its "args and sys.argv" notice does not apply.
    warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")
    quiet_lightning()
    started = time.perf_counter()
    cli = run_lightning_cli(args)
    best = Path(cli.trainer.checkpoint_callback.best_model_path)
    run_dir = best.parent.parent
    report = prune(
        best, sensors=sensors, cost_budget=cost_budget, search_epochs=search_epochs, finetune_epochs=finetune_epochs,
        out=run_dir / "pruned", seed=seed,
    )
    report["export"] = export(report["pruned_checkpoint"], run_dir / "export", board=board, seed=seed)
    report["run_dir"] = str(run_dir)
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    return report


def summary_table(report: dict) -> str:
    c = report["cost_bytes_per_s"]
    b, a = report["before"]["test"], report["after"]["test"]
    rows = [
        ("kept sensors", ", ".join(report["kept_sensors"])),
        ("sampling rate", f"{report['rate_hz']:g} Hz (candidates chosen on validation)"),
        ("model input", f"{tuple(report['full_input_shape'])} -> {tuple(report['input_shape'])}"),
        ("data rate", f"{c['before']:.0f} -> {c['after']:.0f} bytes/s (reduction {100 * c['reduction']:.1f} %)"),
        ("test macro-F1", f"full {b['macro_f1']:.3f} -> pruned {a['macro_f1']:.3f}"),
        ("test accuracy", f"full {b['acc']:.3f} -> pruned {a['acc']:.3f}"),
        *export_rows(report["export"]),
        ("run folder", report["run_dir"]),
        ("time", f"{report['total_seconds']:.0f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _kb(n: int) -> str:
    return f"{n / 1000:.1f} kB"


def export_rows(ex: dict) -> list[tuple[str, str]]:
    """Size, agreement and board-fit lines of an export report (``selectkit.export.export``)."""
    sizes, arts = ex["sizes_bytes"], ex["artefacts"]
    fp32 = sizes["onnx_fp32"]
    rows = [
        ("int8 size", ", ".join(f"{ex['files'][k]} {_kb(sizes[k])} ({100 * sizes[k] / fp32:.0f} % of fp32 {_kb(fp32)})"
                                for k in ("onnx_int8", "tflite_int8"))),
        ("int8 agreement", ", ".join(f"{ex['files'][k]} {arts[k]['agreement']:.3f} (test acc {arts[k]['acc']:.3f})"
                                     for k in ("onnx_int8", "tflite_int8")) + f" vs float {ex['torch_fp32']['acc']:.3f}"),
    ]
    fit = ex.get("board_fit")
    if fit is not None:
        rows.append((
            "board fit",
            f"{fit['board_name']}: {'fits' if fit['fits'] else 'DOES NOT FIT'} (flash {100 * fit['flash']['fraction']:.1f} %, "
            f"RAM {100 * fit['ram']['fraction']:.1f} %; arena {ex['tflite_micro']['arena_bytes']} bytes)",
        ))
    rows.append(("export folder", ex["out"]))
    return rows


def build_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--config", type=Path, help="fit config (default: configs/har/crowdsignals_coss.yaml)")
    p.add_argument("--root", type=Path, default=Path("runs/demo"), help="where runs are written (default runs/demo)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--sensors", type=int, help="keep the K best-ranked sensors")
    budget.add_argument("--cost-budget", type=float, help="data-rate budget in bytes/s (default 600)")
    p.add_argument("--epochs", type=int, help="override the config's max_epochs")
    p.add_argument("--finetune-epochs", type=int, default=15)
    p.add_argument("--search-epochs", type=int, default=4)
    p.add_argument("--board", default="nano33ble", help="board profile for the export's fit check (default nano33ble)")
    p.add_argument("--seed", type=int, default=0)
    return p


def run_from_args(args: argparse.Namespace) -> dict:
    """:func:`run_demo` with the command line's defaults (600 bytes/s when no budget is given);
    ``benchmarks/export.py`` runs the demo through here too."""
    cost_budget = args.cost_budget if args.sensors is None and args.cost_budget is not None else None
    if args.sensors is None and args.cost_budget is None:
        cost_budget = 600.0
    return run_demo(
        args.config or default_config(), args.root, sensors=args.sensors, cost_budget=cost_budget, epochs=args.epochs,
        finetune_epochs=args.finetune_epochs, search_epochs=args.search_epochs, seed=args.seed, board=args.board,
    )


def main(args: argparse.Namespace) -> int:
    report = run_from_args(args)
    print(f"\nCoSS on {report['dataset']}: fit -> prune -> test -> int8 export\n")
    print(summary_table(report))
    return 0
