"""Full-int8 TFLite through litert-torch PT2E quantization, and a LiteRT runner for it.

The converted model has int8 input ``(1, S, A, T)`` and int8 output ``(1, num_classes)``: every
tensor is int8 (biases int32), which is what TFLite-Micro kernels on a Cortex-M expect. Weights
are symmetric per-channel, activations per-tensor affine with ranges from calibration windows.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["QuantParams", "convert_int8", "interpreter_class", "io_details", "TFLiteRunner", "quantize", "dequantize"]


@dataclass(frozen=True)
class QuantParams:
    """Affine int8 quantisation of one tensor: ``real = scale * (q - zero_point)``."""

    scale: float
    zero_point: int

    def as_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "zero_point": self.zero_point}


def quantize(x: np.ndarray, q: QuantParams) -> np.ndarray:
    """float -> int8 with round-half-to-even and saturation, as the TFLite QUANTIZE kernel does."""
    return np.clip(np.rint(x / q.scale) + q.zero_point, -128, 127).astype(np.int8)


def dequantize(x: np.ndarray, q: QuantParams) -> np.ndarray:
    return (x.astype(np.float32) - q.zero_point) * np.float32(q.scale)


@contextlib.contextmanager
def _quiet_litert() -> Iterator[None]:
    """litert-torch prints a progress tree per conversion; the export report is the output that matters."""
    import litert_torch

    before = os.environ.get("LITERT_TORCH_SHOW_PROGRESS")
    litert_torch.config.show_progress = False
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LITERT_TORCH_SHOW_PROGRESS", None)
        else:
            os.environ["LITERT_TORCH_SHOW_PROGRESS"] = before


def convert_int8(model: nn.Module, calibration: torch.Tensor) -> bytes:
    """The full-int8 ``.tflite`` flatbuffer of ``model`` (eval mode).

    ``calibration``: ``(N, S, A, T)`` float windows from the training split; they set the
    activation ranges (histogram observers) and the input/output quantisation.
    """
    import litert_torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    model = model.eval()
    example = (calibration[:1].float(),)
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True))
    with torch.no_grad(), _quiet_litert():
        graph = torch.export.export(model, example).module()
        graph = prepare_pt2e(graph, quantizer)
        # The graph is traced for batch 1 (the microcontroller's shape); calibrate window by window.
        for window in calibration.float():
            graph(window[None])
        graph = convert_pt2e(graph, fold_quantize=False)
        move_exported_model_to_eval(graph)
        # An exported graph refuses .eval(); the call above already switched its ops to eval
        # semantics, and litert-torch only reads this flag (to warn).
        graph.training = False
        edge = litert_torch.convert(graph, example, quant_config=QuantConfig(pt2e_quantizer=quantizer))
        flatbuffer = bytes(edge.model_content())
    inp, out = io_details(flatbuffer)
    if inp["dtype"] != np.int8 or out["dtype"] != np.int8:
        raise RuntimeError(
            f"litert-torch produced {np.dtype(inp['dtype']).name} input / {np.dtype(out['dtype']).name} output; "
            "expected a full-int8 model (int8 input and output)"
        )
    return flatbuffer


def interpreter_class() -> type:
    """The TFLite interpreter: ``ai_edge_litert``, else the older ``tflite_runtime``."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise ModuleNotFoundError(
                "no TFLite interpreter: install ai-edge-litert (pip install 'selectkit[tflite]') or tflite-runtime"
            ) from None
    return Interpreter


def _interpreter(flatbuffer: bytes) -> Any:
    # LiteRT logs its delegate choice at INFO level through absl; not useful to a user.
    logging.getLogger("absl").setLevel(logging.WARNING)
    interp = interpreter_class()(model_content=flatbuffer, num_threads=1)
    interp.allocate_tensors()
    return interp


def io_details(flatbuffer: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The interpreter's details of the single input and the single output tensor."""
    interp = _interpreter(flatbuffer)
    inputs, outputs = interp.get_input_details(), interp.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"expected one input and one output tensor, got {len(inputs)} and {len(outputs)}")
    return inputs[0], outputs[0]


def _scalar(v: Any) -> Any:
    return float(v) if isinstance(v, float) else int(v)


class TFLiteRunner:
    """LiteRT interpreter on a full-int8 model.

    ``__call__``: ``(N, S, A, T)`` float32 -> ``(N, K)`` float32 dequantised logits; ``run_int8``:
    ``(N, S, A, T)`` int8 -> ``(N, K)`` int8, one window per invocation (the model's batch is 1).
    """

    def __init__(self, flatbuffer: bytes) -> None:
        self.interp = _interpreter(flatbuffer)
        inp, out = self.interp.get_input_details()[0], self.interp.get_output_details()[0]
        self.input_index, self.output_index = inp["index"], out["index"]
        self.input_q = QuantParams(*map(_scalar, inp["quantization"]))
        self.output_q = QuantParams(*map(_scalar, out["quantization"]))

    def run_int8(self, x: np.ndarray) -> np.ndarray:
        outs = []
        for window in x:
            self.interp.set_tensor(self.input_index, window[None])
            self.interp.invoke()
            outs.append(self.interp.get_tensor(self.output_index)[0].copy())
        return np.stack(outs)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return dequantize(self.run_int8(quantize(x, self.input_q)), self.output_q)
