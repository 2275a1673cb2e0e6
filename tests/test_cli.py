import subprocess
import sys

from selectkit.cli import main


def test_recovery_prints_true_vs_chosen_for_every_selector(capsys):
    assert main(["recovery", "--steps", "300"]) == 0
    out = capsys.readouterr().out
    for name in ["weight_scores", "gumbel_topk", "gumbel_gates", "soft_select", "attention_topk"]:
        line = next(line for line in out.splitlines() if line.startswith(name))
        assert " yes " in line, line


def test_selectors_lists_the_registry(capsys):
    assert main(["selectors"]) == 0
    out = capsys.readouterr().out
    assert "WeightScores" in out and "AttentionTopK" in out


def test_bad_steps_is_a_clear_error(capsys):
    try:
        main(["recovery", "--steps", "0"])
    except SystemExit as err:
        assert err.code == 2
    assert "--steps=0 must be >= 1" in capsys.readouterr().err


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "selectkit", "selectors"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "gumbel_topk" in proc.stdout


def test_demo_pipeline_on_the_synthetic_config(capsys, tmp_path):
    from pathlib import Path

    cfg = Path(__file__).resolve().parents[1] / "configs" / "har" / "synthetic_coss.yaml"
    args = ["demo", "--config", str(cfg), "--root", str(tmp_path), "--epochs", "2", "--finetune-epochs", "1",
            "--search-epochs", "1", "--sensors", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    for key in ("kept sensors", "sampling rate", "data rate", "test macro-F1", "int8 size", "int8 agreement", "board fit", "run folder"):
        assert key in out
    assert str(tmp_path) in out


def test_bad_input_is_one_clear_line(capsys, tmp_path):
    assert main(["prune", "--ckpt", str(tmp_path / "missing.ckpt"), "--sensors", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("selectkit prune: error: --ckpt") and "Traceback" not in err
