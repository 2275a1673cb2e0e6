"""Smoke run of the CrowdSignals benchmark script on the synthetic network (slow: ~30 s)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_har_coss_quick(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "har_coss.py"), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "har_coss.json").read_text())
    assert {"macro_f1_all", "data_rate_reduction_at_1pt", "oracle_ratio_k1"} <= set(result["summary"])
    assert (tmp_path / "har_coss.png").stat().st_size > 0


def test_quick_refuses_to_overwrite_committed_results():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "har_coss.py"), "--quick"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "give --out elsewhere" in proc.stderr
