"""Every export path as a numeric round trip on a tiny trained pruned model, plus the failure modes."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from selectkit.cli import main
from selectkit.export import export
from selectkit.export.micro import ARENA_ALIGNMENT, UnsupportedOpError, _probe, check_micro
from selectkit.export.onnx import OnnxRunner
from selectkit.export.pipeline import FILES
from selectkit.export.tflite import TFLiteRunner, quantize
from selectkit.training.prune import load_coss_checkpoint


@pytest.fixture(scope="module")
def exported(pruned_ckpt, tmp_path_factory) -> Path:
    """One export through the command line; the tests read what it wrote."""
    out = tmp_path_factory.mktemp("export") / "out"
    assert main(["export", "--ckpt", str(pruned_ckpt), "--out", str(out), "--calibration", "128", "--board", "nano33ble"]) == 0
    return out


@pytest.fixture(scope="module")
def float_model(pruned_ckpt):
    """The float torch model, its held-out (test) windows ``(N, S, A, T)`` and float logits ``(N, K)``."""
    module, dm = load_coss_checkpoint(pruned_ckpt)
    x = dm.dataset("test").tensors[0]
    with torch.no_grad():
        logits = module.net.eval()(x).numpy()
    return module.net, x.numpy(), logits


def test_artefacts_and_report_are_written(exported, capsys):
    for name in [*FILES.values(), "report.json", "report.md"]:
        assert (exported / name).is_file() and (exported / name).stat().st_size > 0, name
    assert not [p.name for p in exported.iterdir() if p.name.endswith(".tmp")]
    report = json.loads((exported / "report.json").read_text())
    assert report["input_shape"] == [1, 2, 3, 64] and report["kept_sensors"] == ["wrist_acc", "ankle_acc"]
    assert report["sizes_bytes"]["tflite_int8"] == (exported / "model.int8.tflite").stat().st_size
    assert report["onnxruntime_latency"]["int8_over_fp32"] > 0
    assert report["board_fit"]["board"] == "nano33ble" and isinstance(report["board_fit"]["fits"], bool)
    md = (exported / "report.md").read_text()
    assert "Arduino Nano 33 BLE Sense" in md and "minimal tensor arena" in md


def test_fp32_onnx_matches_torch(exported, float_model):
    _, x, ref = float_model
    got = OnnxRunner((exported / "model.onnx").read_bytes())(x)
    assert np.abs(got - ref).max() <= 1e-4


@pytest.mark.parametrize("name, runner", [("model.int8.onnx", OnnxRunner), ("model.int8.tflite", TFLiteRunner)])
def test_int8_argmax_agrees_with_float(exported, float_model, name, runner):
    _, x, ref = float_model
    got = runner((exported / name).read_bytes())(x)
    assert got.shape == ref.shape
    assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.98


def test_tflite_is_full_int8_on_the_pruned_input(exported):
    runner = TFLiteRunner((exported / "model.int8.tflite").read_bytes())
    (inp,), (out,) = runner.interp.get_input_details(), runner.interp.get_output_details()
    # Exactly the pruned input: kept sensors x axes x samples at the kept rate, nothing for dropped sensors.
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert tuple(inp["shape"]) == (1, 2, 3, 64)


def test_tflite_micro_matches_litert_within_one_lsb_at_the_minimal_arena(exported, float_model, tmp_path):
    model = exported / "model.int8.tflite"
    runner = TFLiteRunner(model.read_bytes())
    x_q = quantize(float_model[1][:32], runner.input_q)
    arena = json.loads((exported / "report.json").read_text())["tflite_micro"]["arena_bytes"]
    np.save(tmp_path / "x.npy", x_q)
    assert _probe(model, arena, tmp_path / "x.npy", tmp_path / "y.npy").returncode == 0
    micro = np.load(tmp_path / "y.npy")
    assert np.abs(micro.astype(int) - runner.run_int8(x_q).astype(int)).max() <= 1
    # Minimal: one alignment step less and TFLite-Micro cannot run the model.
    assert _probe(model, arena - ARENA_ALIGNMENT).returncode != 0


@pytest.mark.skipif(shutil.which("cc") is None or shutil.which("nm") is None, reason="needs a C compiler (cc) and nm")
def test_c_header_compiles_and_holds_the_whole_model(exported, tmp_path):
    obj = tmp_path / "model_data.o"
    subprocess.run(["cc", "-c", str(exported / "model_data.cc"), "-I", str(exported), "-o", str(obj)], check=True)
    symbols = subprocess.run(["nm", "-S", "-C", str(obj)], check=True, capture_output=True, text=True).stdout
    sizes = {line.split()[-1]: int(line.split()[1], 16) for line in symbols.splitlines() if len(line.split()) == 4}
    assert sizes["g_model_data"] == (exported / "model.int8.tflite").stat().st_size
    # The header is plain C as well (firmware written in C includes it).
    user = tmp_path / "user.c"
    user.write_text('#include "model_data.h"\nint check(void) { return MODEL_NUM_SENSORS * MODEL_NUM_AXES * MODEL_WINDOW_LENGTH; }\n')
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", "-fsyntax-only", "-I", str(exported), str(user)], check=True)
    header = (exported / "model_data.h").read_text()
    for macro in ("MODEL_INPUT_SCALE", "MODEL_INPUT_ZERO_POINT", "MODEL_OUTPUT_SCALE", "MODEL_SAMPLING_RATE_HZ", "MODEL_TENSOR_ARENA_SIZE"):
        assert f"#define {macro} " in header
    assert '"wrist_acc", "ankle_acc"' in (exported / "model_data.cc").read_text()


def test_unsupported_op_is_named_with_its_layer():
    import litert_torch

    class Ranker(torch.nn.Module):
        def forward(self, x):
            return torch.topk(x, 3).values

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(8, 8)
            self.ranker = Ranker()

        def forward(self, x):
            return self.ranker(self.lin(x))

    flatbuffer = bytes(litert_torch.convert(Net().eval(), (torch.randn(1, 8),)).model_content())
    with pytest.raises(UnsupportedOpError, match=r"STABLEHLO_SORT \(from layer Net/Ranker_ranker\)"):
        check_micro(flatbuffer, np.zeros((1, 8), dtype=np.int8))


def test_failing_conversion_leaves_no_partial_file(pruned_ckpt, tmp_path, monkeypatch):
    import selectkit.export.tflite as tflite

    def broken(*args, **kwargs):
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(tflite, "convert_int8", broken)
    with pytest.raises(RuntimeError, match="conversion failed"):
        export(pruned_ckpt, tmp_path / "new", formats=["tflite"], calibration=16)
    assert not (tmp_path / "new").exists()
    # With --force over an earlier export, the earlier files stay whole.
    old = tmp_path / "old"
    old.mkdir()
    (old / "model.int8.tflite").write_bytes(b"earlier")
    with pytest.raises(RuntimeError):
        export(pruned_ckpt, old, formats=["tflite"], calibration=16, force=True)
    assert [p.name for p in old.iterdir()] == ["model.int8.tflite"] and (old / "model.int8.tflite").read_bytes() == b"earlier"


def test_existing_out_needs_force(pruned_ckpt, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["export", "--ckpt", str(pruned_ckpt), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("selectkit export: error: --out") and "--force" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--formats", "onnx,pb"], "--formats='pb' must be one of"),
        (["--quantize", "fp16"], "--quantize='fp16' must be one of"),
        (["--calibration", "0"], "--calibration=0 must be a positive"),
        (["--board", "uno"], "board='uno' is not a known board"),
    ],
)
def test_cli_bad_options_are_one_clear_line(pruned_ckpt, tmp_path, capsys, args, message):
    assert main(["export", "--ckpt", str(pruned_ckpt), "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("selectkit export: error:") and message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_missing_and_unpruned_checkpoints_are_clear_errors(pruned_ckpt, tmp_path, capsys):
    assert main(["export", "--ckpt", str(tmp_path / "missing.ckpt"), "--out", str(tmp_path / "o")]) == 2
    assert "--ckpt" in capsys.readouterr().err
    # A checkpoint of the full (unpruned) network still has its weight scores and rate branches.
    from selectkit.training.module import CoSSModule
    from selectkit.training.prune import PruneOutcome, save_pruned

    _, dm = load_coss_checkpoint(pruned_ckpt)
    full = CoSSModule(num_sensors=2, num_axes=3, window_length=64, input_rate=25.0, num_classes=dm.num_classes,
                      sensor_names=dm.sensor_names, rates=[25.0, 12.5])
    ckpt = save_pruned(PruneOutcome({}, full, dm), tmp_path / "full")
    with pytest.raises(ValueError, match=r"not a pruned model \(score_mode='separate', 2 rate branches\)"):
        export(ckpt, tmp_path / "o")


def test_a_model_that_does_not_fit_is_reported_and_still_written(pruned_ckpt, tmp_path, monkeypatch):
    from selectkit.edge import boards

    tiny = boards.Board("tiny", "a board too small", "none", "Cortex-M0", 16, flash_bytes=64 * 1024, ram_bytes=8 * 1024)
    monkeypatch.setitem(boards.BOARDS, "tiny", tiny)
    report = export(pruned_ckpt, tmp_path / "o", formats=["tflite"], calibration=16, board="tiny")
    fit = report["board_fit"]
    assert not fit["fits"] and not fit["flash"]["fits"] and not fit["ram"]["fits"]
    assert fit["flash"]["need"] == report["sizes_bytes"]["tflite_int8"] + boards.RUNTIME_FLASH_BYTES
    assert fit["ram"]["parts"]["arena"] == report["tflite_micro"]["arena_bytes"]
    assert (tmp_path / "o" / "model.int8.tflite").is_file() and (tmp_path / "o" / "model_data.h").is_file()
    assert "DOES NOT FIT" in (tmp_path / "o" / "report.md").read_text()
