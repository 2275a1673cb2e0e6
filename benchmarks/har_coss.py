"""CoSS on CrowdSignals against all sensors, random subsets, a mutual-information ranking and the
exhaustive oracle; writes ``benchmarks/results/har_coss.{json,md,png}``.

Protocol (DESIGN.md): interval-grouped folds (test = whole labelled intervals; Running, the only
class with a single interval, is cut in time -- the documented exception), validation carved from
the training intervals, every choice (rate, epoch) made on validation, test read once per
configuration; every figure is a mean over folds x seeds with a 95 % interval. Validation is the
last part of each training interval in time (``--val-mode time``; a whole validation interval per
class would take a large share of the few training intervals away), and CoSS's weight scores learn
from those validation batches (``--selector-data val``): trained jointly on the training windows
they reward the magnetometers, whose orientation identifies an interval.

Per fold and seed:
* ``all``: all six sensors at the highest rate (100 Hz), no selection.
* ``coss@budget``: one CoSS fit (weight scores over sensors and 5 rates), then pruned to each
  data-rate budget (fractions of ``all``'s bytes/s) by :func:`selectkit.training.prune.select_and_finetune`.
* ``coss@k`` for k = 1, 2, 3 sensors (rate chosen on validation), with, at the same k and rate,
  ``random@k`` (``--random-draws`` subsets) and ``mi@k`` (top-k sensors by mutual information of
  per-sensor window statistics with the label, sklearn).
* ``reference_rf``: the classical reference -- statistical and spectral features of all six
  sensors at 100 Hz, a random forest (sklearn) -- for the scale of the task, not a selection method.
* ``oracle@k``: every k-subset at the same rate, trained and tested (first seed only); the best on
  test is an upper bound, not a method.

    python benchmarks/har_coss.py            # the full run (about an hour on 2 cores)
    python benchmarks/har_coss.py --quick    # a minutes-long smoke run on the synthetic network
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytorch_lightning as pl
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import mutual_info_classif
from sklearn.metrics import accuracy_score, f1_score

from selectkit.io import atomic_write_json, atomic_write_text
from selectkit.training.datamodule import HARDataModule
from selectkit.training.module import CoSSModule
from selectkit.training.prune import finetune, evaluate, quiet_lightning, select_and_finetune

RESULTS = Path(__file__).resolve().parent / "results"
T_975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23}


def mean_ci(values: list[float]) -> dict[str, float]:
    """Mean and the half-width of a 95 % t-interval."""
    n = len(values)
    m = statistics.fmean(values)
    half = T_975.get(n - 1, 1.96) * statistics.stdev(values) / math.sqrt(n) if n > 1 else float("nan")
    return {"mean": round(m, 4), "ci95": round(half, 4), "n": n}


#: The architecture of configs/har/crowdsignals_coss.yaml, for every model in the run.
MODEL_KWARGS: dict[str, Any] = dict(channels=16, feature_dim=32, hidden=64, dropout=0.3, pooling="meanmax")


def optimizer(params):
    return torch.optim.Adam(params, lr=2e-3, weight_decay=1e-4)


def train_fixed(dm: HARDataModule, args: argparse.Namespace, seed: int, workdir: Path) -> dict[str, float]:
    """A network without selection on ``dm``'s sensors at its rate; best epoch on validation; test once."""
    pl.seed_everything(seed, verbose=False)
    m = CoSSModule(
        dm.num_sensors, dm.num_axes, dm.window_length, dm.input_rate, dm.num_classes, sensor_names=dm.sensor_names,
        rates=[dm.input_rate], score_mode="none", optimizer=optimizer, **MODEL_KWARGS,
    )
    m = finetune(m, dm, args.fixed_epochs, workdir, seed)
    return evaluate(m.net, dm, "test")


def fit_coss(dm: HARDataModule, args: argparse.Namespace, seed: int, workdir: Path) -> CoSSModule:
    pl.seed_everything(seed, verbose=False)
    m = CoSSModule(
        dm.num_sensors, dm.num_axes, dm.window_length, dm.input_rate, dm.num_classes, sensor_names=dm.sensor_names,
        rates=args.rates, score_mode="separate", optimizer=optimizer, selector_data=args.selector_data, **MODEL_KWARGS,
    )
    return finetune(m, dm, args.epochs, workdir, seed)


#: Spectral bands (Hz) of the classical features.
BANDS = ((0.0, 1.0), (1.0, 3.0), (3.0, 6.0), (6.0, 12.0), (12.0, 25.0), (25.0, 50.0))


def window_features(x: np.ndarray, rate: float) -> np.ndarray:
    """Classical per-sensor features: ``(W, S, A, T)`` -> ``(W, S, F)``.

    For every axis and the vector magnitude: mean, standard deviation, 10/50/90th percentiles,
    mean absolute first difference, and the log energy in :data:`BANDS` (what HAR papers feed
    random forests). Shared by the mutual-information ranking and the random-forest reference.
    """
    chans = np.concatenate([x, np.linalg.norm(x, axis=2, keepdims=True)], axis=2)  # (W, S, A+1, T)
    stats = [chans.mean(-1), chans.std(-1), *np.percentile(chans, [10, 50, 90], axis=-1), np.abs(np.diff(chans, axis=-1)).mean(-1)]
    power = np.abs(np.fft.rfft(chans - chans.mean(-1, keepdims=True), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(chans.shape[-1], d=1.0 / rate)
    bands = [np.log1p(power[..., (freqs >= lo) & (freqs < hi)].sum(-1)) for lo, hi in BANDS if lo < rate / 2]
    feats = np.stack(stats + bands, axis=-1)  # (W, S, A+1, F')
    return feats.reshape(feats.shape[0], feats.shape[1], -1)


def mi_ranking(dm: HARDataModule, feats: np.ndarray, seed: int) -> list[int]:
    """Sensors by the mean mutual information of their window features ``feats`` ``(W, S, F)``
    (:func:`window_features` of every window) with the label, on the training windows only."""
    ws, idx = dm.windows, dm.split.train
    mi = mutual_info_classif(feats[idx].reshape(len(idx), -1), ws.y[idx], random_state=seed).reshape(ws.num_sensors, -1)
    return np.argsort(-mi.mean(-1), kind="stable").tolist()


def random_forest(dm: HARDataModule, feats: np.ndarray, seed: int) -> dict[str, float]:
    """The classical reference: ``feats`` ``(W, S, F)`` of all sensors, a random forest fit on the
    training windows, scored on test (no validation needed: default hyper-parameters)."""
    ws, sp = dm.windows, dm.split
    feats = feats.reshape(len(ws), -1)
    rf = RandomForestClassifier(n_estimators=300, n_jobs=1, random_state=seed).fit(feats[sp.train], ws.y[sp.train])
    pred = rf.predict(feats[sp.test])
    return {"macro_f1": float(f1_score(ws.y[sp.test], pred, average="macro")), "acc": float(accuracy_score(ws.y[sp.test], pred))}


def run(args: argparse.Namespace, on_fold: Callable[[list[dict[str, Any]], float, int], None] | None = None) -> dict[str, Any]:
    """All rows of the run; ``on_fold(rows, seconds, folds_done)`` after each fold (partial results)."""
    rows: list[dict[str, Any]] = []
    data_kwargs = dict(
        dataset=args.dataset, rate=args.rates[0], window_s=args.window_s, stride_s=args.stride_s, n_folds=args.folds,
        rotate_degrees=args.rotate_degrees, val_mode=args.val_mode,
    )
    if args.dataset == "synthetic":
        data_kwargs["synthetic"] = {"num_subjects": 3}
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="har-coss-") as tmp:
        work = Path(tmp)
        for fold in range(args.folds):
            dm = HARDataModule(fold=fold, **data_kwargs)
            dm.setup()
            names = dm.sensor_names
            all_cost = float(sum(dm.sensor_costs(dm.input_rate)))
            # Features are per window: computed once per fold for the MI ranking and every seed's forest.
            feats = window_features(dm.windows.x, dm.windows.rate)
            mi_rank = mi_ranking(dm, feats, args.seed)
            for si, seed in enumerate(args.seed + np.arange(args.seeds)):
                seed = int(seed)

                def add(method: str, sensors: list[str], rate: float, metrics: dict[str, float], **extra: Any) -> None:
                    cost = sum(dm.sensor_costs(rate)[names.index(s)] for s in sensors)
                    rows.append({"fold": fold, "seed": seed, "method": method, "sensors": sensors, "rate_hz": rate,
                                 "cost_bytes_per_s": cost, "cost_fraction": cost / all_cost, "test_macro_f1": metrics["macro_f1"],
                                 "test_acc": metrics["acc"], **extra})
                    logging.info("fold %d seed %d %-14s %-50s %6.2f Hz  F1 %.3f  (%.0f s)", fold, seed, method, ",".join(sensors),
                                 rate, metrics["macro_f1"], time.perf_counter() - started)

                add("all", names, dm.input_rate, train_fixed(dm, args, seed, work / "all"))
                add("reference_rf", names, dm.input_rate, random_forest(dm, feats, seed))
                full = fit_coss(dm, args, seed, work / "coss")
                for frac in args.budgets:
                    out = select_and_finetune(full, dm, cost_budget=frac * all_cost, search_epochs=args.search_epochs,
                                              finetune_epochs=args.finetune_epochs, seed=seed)
                    add(f"coss@{frac:g}", out.report["kept_sensors"], out.report["rate_hz"], out.report["after"]["test"], budget=frac)
                for k in args.ks:
                    out = select_and_finetune(full, dm, sensors=k, search_epochs=args.search_epochs,
                                              finetune_epochs=args.finetune_epochs, seed=seed)
                    rate = out.report["rate_hz"]
                    add(f"coss@k{k}", out.report["kept_sensors"], rate, out.report["after"]["test"], k=k)
                    mi = [names[i] for i in sorted(mi_rank[:k])]
                    add(f"mi@k{k}", mi, rate, train_fixed(dm.restricted(mi, rate), args, seed, work / "mi"), k=k)
                    for d in range(args.random_draws):
                        pick = sorted(rng.choice(len(names), size=k, replace=False).tolist())
                        sub = [names[i] for i in pick]
                        add(f"random@k{k}", sub, rate, train_fixed(dm.restricted(sub, rate), args, seed, work / "rnd"), k=k, draw=d)
                    if si == 0 and k in args.oracle_ks:
                        for combo in itertools.combinations(range(len(names)), k):
                            sub = [names[i] for i in combo]
                            add(f"oracle@k{k}", sub, rate, train_fixed(dm.restricted(sub, rate), args, seed, work / "orc"), k=k)
            if on_fold is not None:
                on_fold(rows, round(time.perf_counter() - started, 1), fold + 1)
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 1)}


def summarise(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    def vals(method: str) -> list[float]:
        return [r["test_macro_f1"] for r in rows if r["method"] == method]

    methods = sorted({r["method"] for r in rows if not r["method"].startswith("oracle")})
    table = {}
    for m in methods:
        sel = [r for r in rows if r["method"] == m]
        table[m] = {"macro_f1": mean_ci(vals(m)), "cost_fraction": round(statistics.fmean(r["cost_fraction"] for r in sel), 4)}
    all_f1 = table["all"]["macro_f1"]["mean"]
    within = [(table[f"coss@{b:g}"]["cost_fraction"], b) for b in args.budgets
              if table[f"coss@{b:g}"]["macro_f1"]["mean"] >= all_f1 - 0.01]
    cheapest = min(within) if within else None
    summary: dict[str, Any] = {
        "macro_f1_all": all_f1,
        "data_rate_reduction_at_1pt": None if cheapest is None else round(1 - cheapest[0], 4),
        "macro_f1_coss_at_1pt": None if cheapest is None else table[f"coss@{cheapest[1]:g}"]["macro_f1"]["mean"],
    }
    oracle: dict[str, Any] = {}
    for k in args.ks:
        # Oracle: per (fold, first seed), the best subset on test; CoSS@k of the same fold and seed.
        ratios = []
        for fold in sorted({r["fold"] for r in rows}):
            orc = [r for r in rows if r["method"] == f"oracle@k{k}" and r["fold"] == fold]
            if not orc:
                continue
            best = max(orc, key=lambda r: r["test_macro_f1"])
            coss = [r for r in rows if r["method"] == f"coss@k{k}" and r["fold"] == fold and r["seed"] == best["seed"]]
            if coss and best["test_macro_f1"] > 0:
                ratios.append(coss[0]["test_macro_f1"] / best["test_macro_f1"])
            oracle.setdefault(f"k{k}", []).append({"fold": fold, "best_subset": best["sensors"], "best_macro_f1": best["test_macro_f1"]})
        summary[f"oracle_ratio_k{k}"] = round(statistics.fmean(ratios), 4) if ratios else None
    return {"summary": summary, "table": table, "oracle": oracle}


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "har_coss.json", result)
    s, table = result["summary"], result["table"]
    done = result.get("folds_completed", result["settings"]["folds"])
    partial = (
        [f"**Partial run: {done} of {result['settings']['folds']} folds completed.**", ""] if done < result["settings"]["folds"] else []
    )
    lines = [
        "# CoSS on CrowdSignals" if result["settings"]["dataset"] == "crowdsignals" else f"# CoSS on {result['settings']['dataset']}",
        "",
        f"Generated by `benchmarks/har_coss.py` ({result['seconds']:.0f} s). Test macro-F1, mean and 95 % interval over "
        f"{done} interval-grouped folds x {result['settings']['seeds']} seeds; cost = data rate as a "
        "fraction of all sensors at the highest rate. Training-time rotation augmentation: "
        f"{result['settings'].get('rotate_degrees', 0.0):g} degrees. Validation: "
        f"{result['settings'].get('val_mode', 'time')}; CoSS scores learn from: {result['settings'].get('selector_data', 'train')}.",
        "",
        *partial,
        "| method | test macro-F1 | 95 % | data rate |",
        "|---|---|---|---|",
    ]
    for m, t in table.items():
        lines.append(f"| {m} | {t['macro_f1']['mean']:.3f} | +-{t['macro_f1']['ci95']:.3f} | {100 * t['cost_fraction']:.1f} % |")
    lines += [
        "",
        "Oracle (every k-subset at CoSS's rate for that k, first seed; the best on test is an upper bound):",
        "",
        "| k | fold | best subset | its test macro-F1 |",
        "|---|---|---|---|",
    ]
    for k, entries in result["oracle"].items():
        for e in entries:
            lines.append(f"| {k[1:]} | {e['fold']} | {', '.join(e['best_subset'])} | {e['best_macro_f1']:.3f} |")
    lines += ["", "Summary:", "", "```", json.dumps(s, indent=2), "```"]
    atomic_write_text(out / "har_coss.md", "\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for prefix, color in (("coss@", "tab:blue"), ("random@", "tab:gray"), ("mi@", "tab:orange"), ("all", "tab:red"),
                            ("reference_rf", "tab:green")):
        pts = [(t["cost_fraction"], t["macro_f1"]["mean"], t["macro_f1"]["ci95"]) for m, t in table.items() if m.startswith(prefix)]
        if pts:
            x, y, e = zip(*sorted(pts))
            ax.errorbar([100 * v for v in x], y, yerr=e, fmt="o", color=color, label=prefix.rstrip("@"), capsize=3)
    ax.set_xscale("log")
    ax.set_xlabel("data rate (% of all sensors at the highest rate, log)")
    ax.set_ylabel("test macro-F1")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / ".har_coss.png.tmp.png", dpi=120)
    (out / ".har_coss.png.tmp.png").replace(out / "har_coss.png")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run on the synthetic network, written to --out only")
    p.add_argument("--dataset", default="crowdsignals")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--fixed-epochs", type=int, default=15)
    p.add_argument("--search-epochs", type=int, default=3)
    p.add_argument("--finetune-epochs", type=int, default=12)
    p.add_argument("--budgets", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.35, 0.5])
    p.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--oracle-ks", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--random-draws", type=int, default=5)
    p.add_argument("--rates", type=float, nargs="+", default=[100, 50, 25, 12.5, 6.25])
    p.add_argument("--window-s", type=float, default=2.56)
    p.add_argument("--stride-s", type=float, default=1.28)
    p.add_argument("--rotate-degrees", type=float, default=0.0,
                   help="training-time random rotation of each 3-axis sensor, for every model in the run (default off)")
    p.add_argument("--val-mode", choices=("time", "interval"), default="time",
                   help="validation split: the tails of the training intervals (default) or whole training-side intervals")
    p.add_argument("--selector-data", choices=("train", "val"), default="val",
                   help="where CoSS's weight scores learn from (see SelectionModule)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--render", type=Path, help="only redraw the .md and .png from an existing har_coss.json")
    args = p.parse_args(argv)
    if args.render is not None:
        write(json.loads(args.render.read_text()), args.out)
        return 0
    if args.quick:
        args.dataset, args.folds, args.seeds, args.epochs, args.fixed_epochs = "synthetic", 2, 2, 4, 3
        args.search_epochs, args.finetune_epochs, args.budgets, args.ks, args.oracle_ks, args.random_draws = 1, 2, [0.1, 0.3], [1, 2], [1], 2
        if args.out == RESULTS:
            raise SystemExit("--quick writes smoke results; give --out elsewhere so benchmarks/results is not overwritten")
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    quiet_lightning()
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}

    def save(rows: list[dict[str, Any]], seconds: float, folds_done: int) -> None:
        # Written after every fold, so a run stopped early still leaves its (labelled) results.
        write({"benchmark": "har_coss", "settings": settings, "folds_completed": folds_done, "seconds": seconds,
               **summarise(rows, args), "rows": rows}, args.out)

    run(args, on_fold=save)
    print((args.out / "har_coss.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
