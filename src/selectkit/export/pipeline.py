"""``selectkit export``: a pruned CoSS checkpoint -> ONNX fp32/int8, TFLite int8, C header, report.

The exported graph is the pruned network alone: its input is ``(1, S, A, T)`` -- the kept
sensors x axes x samples at the kept rate -- with no selectors, no sampling and no inputs for
dropped sensors. Calibration windows come from the training split, parity is measured on the
test split against the float torch model. Everything is computed in memory first and written
(atomically, file by file) only when every step has succeeded, so a failed export leaves no
partial artefact behind.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from selectkit.edge.boards import fit_check, get_board, list_boards
from selectkit.export.parity import median_latency, parity
from selectkit.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from selectkit.validation import check_choice

__all__ = ["FORMATS", "QUANTIZE", "export", "format_report", "build_parser", "main"]

FORMATS = ("onnx", "tflite")
QUANTIZE = ("int8",)
#: Artefact file names, one vocabulary for the writer, the report and the tests.
FILES = {
    "onnx_fp32": "model.onnx",
    "onnx_int8": "model.int8.onnx",
    "tflite_int8": "model.int8.tflite",
    "header": "model_data.h",
    "source": "model_data.cc",
}


def _check_args(formats: tuple[str, ...], quantize: str, calibration: int, board: str | None) -> None:
    if not formats:
        raise ValueError(f"--formats must name at least one of {list(FORMATS)}")
    for f in formats:
        check_choice(f, "--formats", FORMATS)
    check_choice(quantize, "--quantize", QUANTIZE)
    if isinstance(calibration, bool) or not isinstance(calibration, int) or calibration < 1:
        raise ValueError(f"--calibration={calibration!r} must be a positive number of training windows")
    if board is not None:
        get_board(board)


def _load_pruned(ckpt: Path):
    from selectkit.training.prune import load_coss_checkpoint

    module, dm = load_coss_checkpoint(ckpt)
    if module.hparams.score_mode != "none" or module.net.num_rates != 1:
        raise ValueError(
            f"--ckpt {ckpt}: not a pruned model (score_mode={module.hparams.score_mode!r}, {module.net.num_rates} rate branches); "
            "export takes the pruned.ckpt written by `selectkit prune`"
        )
    return module, dm


def _export_onnx(
    net: torch.nn.Module, calib: torch.Tensor, test_x: torch.Tensor, reference: np.ndarray, test_y: torch.Tensor,
    latency_repeats: int, files: dict[str, bytes], report: dict[str, Any],
) -> None:
    """fp32 and int8 ONNX into ``files``, their parity, weight bytes and latency into ``report``.

    ``calib``: ``(N, S, A, T)`` training windows; ``test_x`` ``(M, S, A, T)`` with float logits
    ``reference`` ``(M, K)`` and labels ``test_y`` ``(M,)``.
    """
    from selectkit.export.onnx import OnnxRunner, export_fp32, quantize_int8, weight_bytes

    x, y = test_x.numpy(), test_y.numpy()
    files["onnx_fp32"] = export_fp32(net, test_x[:1])
    files["onnx_int8"] = quantize_int8(files["onnx_fp32"], calib.numpy())
    latency = {}
    for key in ("onnx_fp32", "onnx_int8"):
        runner = OnnxRunner(files[key])
        report["artefacts"][key] = parity(runner(x), reference, y)
        latency[key] = median_latency(runner, x[:1], repeats=latency_repeats)
    report["onnx_weight_bytes"] = {key: weight_bytes(files[key]) for key in ("onnx_fp32", "onnx_int8")}
    report["onnxruntime_latency"] = {
        "fp32_ms": 1e3 * latency["onnx_fp32"], "int8_ms": 1e3 * latency["onnx_int8"],
        "int8_over_fp32": latency["onnx_int8"] / latency["onnx_fp32"], "repeats": latency_repeats, "threads": 1,
    }


def _export_tflite(
    module, dm, calib: torch.Tensor, test_x: torch.Tensor, reference: np.ndarray, test_y: torch.Tensor,
    board: str | None, files: dict[str, bytes], report: dict[str, Any],
) -> None:
    """Full-int8 TFLite, its LiteRT parity, the TFLite-Micro check, the C sources and the board fit."""
    from selectkit.export.micro import c_sources, check_micro
    from selectkit.export.tflite import TFLiteRunner, convert_int8, dequantize, quantize

    net = module.net
    files["tflite_int8"] = convert_int8(net, calib)
    runner = TFLiteRunner(files["tflite_int8"])
    x_q = quantize(test_x.numpy(), runner.input_q)
    litert_q = runner.run_int8(x_q)
    report["artefacts"]["tflite_int8"] = parity(dequantize(litert_q, runner.output_q), reference, test_y.numpy())
    micro = check_micro(files["tflite_int8"], x_q)
    lsb = np.abs(micro.outputs.astype(np.int32) - litert_q.astype(np.int32))
    report["tflite_micro"] = {
        "arena_bytes": micro.arena_bytes, "ops": micro.ops, "probes": micro.probes, "max_lsb_diff_vs_litert": int(lsb.max()),
        "agreement_vs_litert": float((micro.outputs.argmax(1) == litert_q.argmax(1)).mean()), "windows": int(len(x_q)),
    }
    report["io_quantization"] = {"input": runner.input_q.as_dict(), "output": runner.output_q.as_dict()}
    header, source = c_sources(files["tflite_int8"], {
        "sensors": module.sensor_names, "classes": dm.class_names, "num_axes": net.num_axes,
        "window_length": net.window_length, "rate_hz": net.input_rate, "input_q": runner.input_q,
        "output_q": runner.output_q, "norm_mean": dm.norm_mean[:, :, 0], "norm_std": dm.norm_std[:, :, 0],
        "arena_bytes": micro.arena_bytes, "source": report["checkpoint"],
    })
    files["header"], files["source"] = header.encode(), source.encode()
    if board is not None:
        # Outside the arena the firmware keeps the int8 window it is filling and the int8 scores.
        io_bytes = int(np.prod(report["input_shape"])) + len(dm.class_names)
        report["board_fit"] = fit_check(board, model_bytes=len(files["tflite_int8"]), arena_bytes=micro.arena_bytes, io_bytes=io_bytes)


def export(
    ckpt: str | Path,
    out: str | Path,
    *,
    formats: tuple[str, ...] | list[str] = FORMATS,
    quantize: str = "int8",
    calibration: int = 256,
    board: str | None = "nano33ble",
    force: bool = False,
    seed: int = 0,
    latency_repeats: int = 100,
) -> dict[str, Any]:
    """Export a pruned checkpoint into ``out``; returns the report (also written as report.json/.md).

    Args:
        ckpt: ``pruned.ckpt`` from ``selectkit prune``.
        out: output folder; an existing non-empty folder needs ``force=True``.
        formats: ``"onnx"`` (fp32 + int8 QDQ) and/or ``"tflite"`` (full int8, TFLite-Micro check,
            C header and board fit).
        quantize: ``"int8"``.
        calibration: number of training windows (drawn with ``seed``) for the activation ranges.
        board: board profile key for the fit check (``None``: no check).
        latency_repeats: onnxruntime runs per model for the median latency of one window.
    """
    started = time.perf_counter()
    formats = tuple(dict.fromkeys(formats))
    _check_args(formats, quantize, calibration, board)
    ckpt, out = Path(ckpt), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise FileExistsError(f"--out {out} exists and is not empty; pass --force to overwrite")
    module, dm = _load_pruned(ckpt)
    net = module.net.eval()
    dm.setup()
    train_x = dm.dataset("train").tensors[0]
    test_x, test_y = dm.dataset("test").tensors
    gen = torch.Generator().manual_seed(seed)
    calib = train_x[torch.randperm(len(train_x), generator=gen)[: min(calibration, len(train_x))]]
    with torch.no_grad():
        reference = net(test_x).numpy()

    report: dict[str, Any] = {
        "checkpoint": str(ckpt),
        "dataset": dm.hparams.dataset,
        "kept_sensors": list(module.sensor_names),
        "rate_hz": net.input_rate,
        "input_shape": [1, *net.input_shape()],
        "classes": dm.class_names,
        "formats": list(formats),
        "quantize": quantize,
        "calibration_windows": int(len(calib)),
        "test_windows": int(len(test_y)),
        "torch_fp32": parity(reference, reference, test_y.numpy()),
        "artefacts": {},
    }
    files: dict[str, bytes] = {}
    if "onnx" in formats:
        _export_onnx(net, calib, test_x, reference, test_y, latency_repeats, files, report)
    if "tflite" in formats:
        _export_tflite(module, dm, calib, test_x, reference, test_y, board, files, report)
    report["sizes_bytes"] = {key: len(files[key]) for key in files if key not in ("header", "source")}
    if "onnx_fp32" in files:
        report["size_fraction_of_fp32_onnx"] = {
            key: n / report["sizes_bytes"]["onnx_fp32"] for key, n in report["sizes_bytes"].items() if key != "onnx_fp32"
        }
    report["files"] = {key: FILES[key] for key in files}
    report["export_seconds"] = round(time.perf_counter() - started, 2)

    # Every artefact exists in memory; only now touch OUT, so a failure above leaves it as it was.
    for key, data in files.items():
        atomic_write_bytes(out / FILES[key], data)
    atomic_write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", format_report(report))
    report["out"] = str(out)
    return report


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def format_report(r: dict[str, Any]) -> str:
    """``report.md``: parity table, sizes, latency, TFLite-Micro and board fit."""
    lines = [
        "# Export report",
        "",
        f"- checkpoint: `{r['checkpoint']}` ({r['dataset']})",
        f"- model input: {tuple(r['input_shape'])} (batch, sensors, axes, samples) -- {', '.join(r['kept_sensors'])} at {r['rate_hz']:g} Hz",
        f"- calibration: {r['calibration_windows']} training windows; parity on {r['test_windows']} test windows",
        "",
        "| artefact | size (bytes) | test acc | test macro-F1 | argmax agreement with torch fp32 | max abs logit diff |",
        "|---|---|---|---|---|---|",
        f"| torch fp32 | | {r['torch_fp32']['acc']:.4f} | {r['torch_fp32']['macro_f1']:.4f} | 1 | 0 |",
    ]
    for key, p in r["artefacts"].items():
        lines.append(
            f"| {r['files'][key]} | {r['sizes_bytes'][key]} | {p['acc']:.4f} | {p['macro_f1']:.4f} | {p['agreement']:.4f} | {p['max_abs_diff']:.3g} |"
        )
    if "size_fraction_of_fp32_onnx" in r:
        lines += ["", "Size relative to fp32 ONNX: " + ", ".join(f"{r['files'][k]} {_pct(v)}" for k, v in r["size_fraction_of_fp32_onnx"].items())]
    if "onnx_weight_bytes" in r:
        w = r["onnx_weight_bytes"]
        lines.append(f"ONNX weights (initializers): fp32 {w['onnx_fp32']} bytes, int8 {w['onnx_int8']} bytes "
                     f"({_pct(w['onnx_int8'] / w['onnx_fp32'])}); the rest of each file is graph and metadata.")
    if "onnxruntime_latency" in r:
        lat = r["onnxruntime_latency"]
        lines += [
            "",
            f"onnxruntime latency per window (median of {lat['repeats']} runs, {lat['threads']} thread): "
            f"fp32 {lat['fp32_ms']:.3f} ms, int8 {lat['int8_ms']:.3f} ms (int8/fp32 = {lat['int8_over_fp32']:.2f})",
        ]
    if "tflite_micro" in r:
        m, q = r["tflite_micro"], r["io_quantization"]
        lines += [
            "",
            f"TFLite-Micro: minimal tensor arena {m['arena_bytes']} bytes (bisected, {m['probes']} interpreter runs); "
            f"outputs on {m['windows']} windows within {m['max_lsb_diff_vs_litert']} LSB of LiteRT; ops: {', '.join(m['ops'])}",
            f"int8 I/O: input scale {q['input']['scale']:.6g}, zero point {q['input']['zero_point']}; "
            f"output scale {q['output']['scale']:.6g}, zero point {q['output']['zero_point']}",
        ]
    if "board_fit" in r:
        lines += ["", *board_fit_lines(r["board_fit"])]
    lines += ["", f"Export took {r['export_seconds']:.1f} s."]
    return "\n".join(lines) + "\n"


def board_fit_lines(fit: dict[str, Any]) -> list[str]:
    """Human-readable flash and RAM lines of a :func:`~selectkit.edge.boards.fit_check` result."""
    f, m = fit["flash"], fit["ram"]
    verdict = "fits" if fit["fits"] else "DOES NOT FIT"
    return [
        f"Board {fit['board_name']} ({fit['mcu']}): {verdict} with a {_pct(fit['margin'])} margin",
        f"- flash: {f['need']} of {f['capacity']} bytes ({_pct(f['fraction'])}; model {f['parts']['model']} + runtime allowance {f['parts']['runtime']})",
        f"- RAM: {m['need']} of {m['capacity']} bytes ({_pct(m['fraction'])}; arena {m['parts']['arena']} + I/O buffers "
        f"{m['parts']['io_buffers']} + runtime allowance {m['parts']['runtime']})",
    ]


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(prog="selectkit export", description=__doc__)
    p.add_argument("--ckpt", required=True, help="pruned.ckpt written by `selectkit prune`")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--formats", default=",".join(FORMATS), help=f"comma-separated, of {', '.join(FORMATS)} (default: both)")
    p.add_argument("--quantize", default="int8", help="int8 (the only scheme; default)")
    p.add_argument("--calibration", type=int, default=256, help="training windows for calibration (default 256)")
    p.add_argument("--board", default="nano33ble", help=f"board for the fit check, one of {', '.join(list_boards())} (default nano33ble)")
    p.add_argument("--force", action="store_true", help="overwrite a non-empty output folder")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(args: argparse.Namespace) -> int:
    from selectkit.training.prune import quiet_lightning

    quiet_lightning()
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    report = export(
        args.ckpt, args.out, formats=formats, quantize=args.quantize, calibration=args.calibration, board=args.board,
        force=args.force, seed=args.seed,
    )
    print(format_report(report))
    print(f"written: {report['out']}")
    return 0
