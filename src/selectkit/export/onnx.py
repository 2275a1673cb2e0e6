"""ONNX export: fp32 with the dynamo exporter, int8 QDQ with onnxruntime static quantization.

The graph input is named ``window`` with shape ``(batch, S, A, T)`` (the pruned model's input:
kept sensors x axes x samples at the kept rate) and the output ``logits`` ``(batch, num_classes)``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from torch import nn

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "export_fp32", "quantize_int8", "weight_bytes", "OnnxRunner"]

INPUT_NAME = "window"
OUTPUT_NAME = "logits"


def export_fp32(model: nn.Module, example: torch.Tensor) -> bytes:
    """The fp32 ONNX model of ``model`` (in eval mode) for windows like ``example`` ``(B, S, A, T)``.

    The batch axis is dynamic so parity can run whole splits; everything else is fixed.
    """
    model = model.eval()
    # The exporter warns once per torchvision op it cannot register; selectkit uses none of them.
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with torch.no_grad():
            program = torch.onnx.export(
                model, (example[:1],), dynamo=True, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False,
            )
    finally:
        registration.setLevel(level)
    with tempfile.TemporaryDirectory(prefix="selectkit-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        # Weights are small; keep them inside the one file a user copies around.
        program.save(str(path), external_data=False)
        return path.read_bytes()


class _WindowReader(CalibrationDataReader):
    """onnxruntime calibration reader over ``(N, S, A, T)`` windows, one window per call."""

    def __init__(self, windows: np.ndarray) -> None:
        self._it: Iterator[np.ndarray] = iter(windows.astype(np.float32))

    def get_next(self) -> dict[str, np.ndarray] | None:
        x = next(self._it, None)
        return None if x is None else {INPUT_NAME: x[None]}


def quantize_int8(fp32: bytes, calibration: np.ndarray) -> bytes:
    """int8 QDQ ONNX from fp32 ONNX bytes: per-channel int8 weights, int8 activations.

    ``calibration``: ``(N, S, A, T)`` training windows for the activation ranges (MinMax).
    """
    reader = _WindowReader(calibration)
    with tempfile.TemporaryDirectory(prefix="selectkit-onnx-int8-") as tmp:
        src, pre, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(fp32)
        # onnxruntime's symbolic shape inference cannot follow the dynamo exporter's reshapes on a
        # dynamic batch; ONNX's own shape inference (still run) is all the QDQ pass needs.
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre), str(dst), reader, quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
        )
        return dst.read_bytes()


def weight_bytes(model: bytes) -> int:
    """Bytes of the initializers (weights, biases, quantisation scales and zero points) of an ONNX model.

    Next to the file size this separates what int8 shrinks from the fixed cost of the graph and
    its per-node metadata, which dominates files of a few thousand parameters.
    """
    import onnx

    return sum(onnx.numpy_helper.to_array(t).nbytes for t in onnx.load_from_string(model).graph.initializer)


class OnnxRunner:
    """An onnxruntime session on ONNX bytes: ``(N, S, A, T)`` float32 -> ``(N, K)`` float32 logits."""

    def __init__(self, model: bytes, threads: int = 1) -> None:
        opts = ort.SessionOptions()
        # One thread: latency comparable between fp32 and int8, and quiet on a shared machine.
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(x, dtype=np.float32)})[0]
