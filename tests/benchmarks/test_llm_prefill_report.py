"""The LLM prefill benchmark's report path (tables, summary keys, plots) on made-up records, and a
slow smoke run on the real model."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "llm_prefill.py"


def load_script():
    spec = importlib.util.spec_from_file_location("llm_prefill_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def record(kind, length, depth, timed, scores, seconds):
    return {"kind": kind, "length": length, "depth": depth, "seed": 0, "prompt_tokens": length, "timed": timed,
            "strategies": {name: {"score": scores[name], "answer": "", "tokens_kept": length // 4, "fallback": False,
                                  "cache_mib": 1.0 if timed else None, "seconds": seconds[name] if timed else None,
                                  "peak_rss_mib": 10.0 if timed else None} for name in scores}}


def test_summary_ratios_are_per_prompt_medians_and_plots_are_written(tmp_path):
    bench = load_script()
    names = bench.STRATEGIES
    seconds = [dict(zip(names, (10.0, 5.0, 6.0, 11.0, 20.0))), dict(zip(names, (20.0, 12.0, 12.0, 21.0, 40.0))),
               dict(zip(names, (10.0, 4.0, 7.0, 10.0, 19.0)))]
    records = [record("single_needle", 4096, d, i < 3, dict(zip(names, (1.0, 1.0, 0.0, 1.0, 0.0))), seconds[i % 3])
               for i, d in enumerate((0.1, 0.5, 0.9, 0.1))]
    cells, heat = bench.summarise(records, [4096], 0.25, seed=0)
    pd = next(c for c in cells if c["strategy"] == "promptdistill")
    assert pd["prefill_ratio_median"] == 0.5  # median of 0.5, 0.6, 0.4
    assert pd["accuracy"] == 1.0 and pd["prompts"] == 4 and pd["timed_prompts"] == 3 and pd["k"] == 1024
    assert {h["depth"] for h in heat} == {0.1, 0.5, 0.9}
    bench.plot(cells, heat, tmp_path, 4096)
    assert (tmp_path / "llm_prefill.png").stat().st_size > 0 and (tmp_path / "llm_prefill_needle.png").stat().st_size > 0


@pytest.mark.slow
def test_llm_prefill_quick(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "llm_prefill.json").read_text())["summary"]
    for name in ("promptdistill", "gemfilter", "snapkv", "h2o"):
        assert f"{name}_prefill_ratio_4k" in summary and f"{name}_accuracy_4k" in summary
    assert "full_accuracy_4k" in summary


def test_quick_refuses_to_overwrite_committed_results():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "give --out elsewhere" in proc.stderr
