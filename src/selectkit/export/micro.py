"""TFLite-Micro check (ops, minimal tensor arena, outputs) and the C header/source for firmware.

The check runs the model with the ``tflite-micro`` Python interpreter -- the same kernels a
microcontroller build links. Each probe runs in a child process: an arena a few bytes too small
can make the interpreter crash the process instead of raising, and the bisection below probes
exactly such sizes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["UnsupportedOpError", "MicroResult", "model_ops", "check_micro", "c_sources", "ARENA_ALIGNMENT"]

#: TFLite-Micro aligns arena allocations to 16 bytes; the bisection works at that granularity.
ARENA_ALIGNMENT = 16
_MAX_ARENA = 16 * 1024 * 1024
_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '([^']+)'|Failed to get registration from op code (\S+)")


class UnsupportedOpError(ValueError):
    """The model uses an op that TFLite-Micro has no kernel for."""

    def __init__(self, ops: dict[str, list[str]]) -> None:
        self.ops = ops
        parts = [f"{op} (from layer {', '.join(layers) if layers else 'unknown'})" for op, layers in ops.items()]
        super().__init__(f"TFLite-Micro has no kernel for {'; '.join(parts)}; replace or remove that layer before export")


@dataclass
class MicroResult:
    """What the TFLite-Micro interpreter reported: the minimal arena and the int8 outputs ``(N, K)``."""

    arena_bytes: int
    outputs: np.ndarray
    ops: list[str] = field(default_factory=list)
    probes: int = 0


def _layer_name(tensor_name: str) -> str:
    """``pkg.mod.CoSSNet/pkg.mod._BranchExtractor_0/torch...Conv1d_conv1;2`` -> ``CoSSNet/_BranchExtractor_0/Conv1d_conv1``."""
    path = tensor_name.split(";")[0]
    return "/".join(part.rsplit(".", 1)[-1] for part in path.split("/") if part)


def model_ops(flatbuffer: bytes) -> list[tuple[str, str]]:
    """``(op name, layer)`` for every operator of a ``.tflite`` model, in execution order.

    The layer is the torch module path litert-torch records in the op's output tensor name.
    """
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    names = {v: k for k, v in vars(schema_fb.BuiltinOperator).items() if not k.startswith("_")}
    model = schema_fb.ModelT.InitFromObj(schema_fb.Model.GetRootAsModel(flatbuffer, 0))
    out = []
    for graph in model.subgraphs:
        for op in graph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            name = names.get(builtin, str(builtin))
            if name == "CUSTOM" and code.customCode:
                name = code.customCode.decode()
            outputs = [] if op.outputs is None else list(op.outputs)
            tensor = graph.tensors[outputs[0]].name.decode() if outputs else ""
            out.append((name, _layer_name(tensor)))
    return out


def _probe(model: Path, arena: int, inputs: Path | None = None, outputs: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "selectkit.export.micro", str(model), str(arena)]
    if inputs is not None:
        cmd += [str(inputs), str(outputs)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def check_micro(flatbuffer: bytes, inputs: np.ndarray) -> MicroResult:
    """Run ``inputs`` ``(N, S, A, T)`` int8 through TFLite-Micro at the smallest arena that works.

    Raises :class:`UnsupportedOpError` naming each op without a TFLite-Micro kernel and the layer
    it came from; ``RuntimeError`` with the interpreter's message for any other failure.
    """
    ops = model_ops(flatbuffer)
    with tempfile.TemporaryDirectory(prefix="selectkit-micro-") as tmp:
        model = Path(tmp) / "model.tflite"
        model.write_bytes(flatbuffer)
        probes = 0
        hi = 64 * 1024
        while True:
            probes += 1
            proc = _probe(model, hi)
            if proc.returncode == 0:
                break
            missing = [a or b for a, b in _MISSING_OP.findall(proc.stderr)]
            if missing:
                raise UnsupportedOpError({op: sorted({layer for name, layer in ops if name == op}) for op in dict.fromkeys(missing)})
            if hi >= _MAX_ARENA:
                raise RuntimeError(f"TFLite-Micro could not run the model with a {hi}-byte arena: {proc.stderr.strip()[-500:]}")
            hi *= 2
        # Invariant: hi works, lo does not (0 never does).
        lo = 0
        while hi - lo > ARENA_ALIGNMENT:
            mid = (lo + hi) // 2 // ARENA_ALIGNMENT * ARENA_ALIGNMENT
            mid = mid if mid > lo else lo + ARENA_ALIGNMENT
            probes += 1
            if _probe(model, mid).returncode == 0:
                hi = mid
            else:
                lo = mid
        x_path, y_path = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
        np.save(x_path, np.ascontiguousarray(inputs, dtype=np.int8))
        proc = _probe(model, hi, x_path, y_path)
        if proc.returncode != 0:
            raise RuntimeError(f"TFLite-Micro failed at its measured arena of {hi} bytes: {proc.stderr.strip()[-500:]}")
        outputs = np.load(y_path)
    return MicroResult(arena_bytes=hi, outputs=outputs, ops=sorted({name for name, _ in ops}), probes=probes + 1)


def _c_float(v: float) -> str:
    return f"{float(v):.9e}f"


def _c_array(values: np.ndarray) -> str:
    """A nested C initialiser for a float array of any rank."""
    if values.ndim == 1:
        return "{" + ", ".join(_c_float(v) for v in values) + "}"
    return "{" + ", ".join(_c_array(v) for v in values) + "}"


def c_sources(flatbuffer: bytes, meta: dict[str, Any]) -> tuple[str, str]:
    """``model_data.h`` and ``model_data.cc``: the flatbuffer as an aligned array plus what firmware
    needs to feed it.

    ``meta`` keys: ``sensors`` (names, ``S``), ``classes`` (names, ``K``), ``num_axes`` (``A``),
    ``window_length`` (``T``), ``rate_hz``, ``input_q`` / ``output_q``
    (:class:`~selectkit.export.tflite.QuantParams`), ``norm_mean`` / ``norm_std`` ``(S, A)`` (the
    training normalisation), ``arena_bytes`` and ``source`` (the checkpoint, for the comment).
    """
    s, a, t, k = len(meta["sensors"]), meta["num_axes"], meta["window_length"], len(meta["classes"])
    mean, std = np.asarray(meta["norm_mean"], dtype=np.float64), np.asarray(meta["norm_std"], dtype=np.float64)
    if mean.shape != (s, a) or std.shape != (s, a):
        raise ValueError(f"norm_mean {mean.shape} / norm_std {std.shape} must be (sensors={s}, axes={a})")
    iq, oq = meta["input_q"], meta["output_q"]
    header = f"""\
// Generated by `selectkit export` from {Path(str(meta['source'])).name}; do not edit.
// The int8 TFLite model for TFLite-Micro and what firmware needs to feed it.
#ifndef SELECTKIT_MODEL_DATA_H_
#define SELECTKIT_MODEL_DATA_H_

#ifdef __cplusplus
extern "C" {{
#endif

// Input: int8 tensor (1, MODEL_NUM_SENSORS, MODEL_NUM_AXES, MODEL_WINDOW_LENGTH), samples at
// MODEL_SAMPLING_RATE_HZ, sensors in the order of g_model_sensor_names. Per sensor s and axis a:
//   x_norm = (x - g_model_norm_mean[s][a]) / g_model_norm_std[s][a]
//   q = clamp(round(x_norm / MODEL_INPUT_SCALE) + MODEL_INPUT_ZERO_POINT, -128, 127)
// Output: int8 scores (1, MODEL_NUM_CLASSES); logit = MODEL_OUTPUT_SCALE * (q - MODEL_OUTPUT_ZERO_POINT).
#define MODEL_NUM_SENSORS {s}
#define MODEL_NUM_AXES {a}
#define MODEL_WINDOW_LENGTH {t}
#define MODEL_SAMPLING_RATE_HZ {_c_float(meta['rate_hz'])}
#define MODEL_NUM_CLASSES {k}
#define MODEL_INPUT_SCALE {_c_float(iq.scale)}
#define MODEL_INPUT_ZERO_POINT ({iq.zero_point})
#define MODEL_OUTPUT_SCALE {_c_float(oq.scale)}
#define MODEL_OUTPUT_ZERO_POINT ({oq.zero_point})
// Smallest tensor arena the TFLite-Micro interpreter ran this model with (bytes).
#define MODEL_TENSOR_ARENA_SIZE {meta['arena_bytes']}

// The .tflite flatbuffer, 16-byte aligned: TFLite-Micro reads it in place from flash.
extern const unsigned char g_model_data[];
extern const unsigned int g_model_data_len;

extern const char* const g_model_sensor_names[MODEL_NUM_SENSORS];
extern const char* const g_model_class_names[MODEL_NUM_CLASSES];
extern const float g_model_norm_mean[MODEL_NUM_SENSORS][MODEL_NUM_AXES];
extern const float g_model_norm_std[MODEL_NUM_SENSORS][MODEL_NUM_AXES];

#ifdef __cplusplus
}}  // extern "C"
#endif

#endif  // SELECTKIT_MODEL_DATA_H_
"""
    rows = [", ".join(f"0x{b:02x}" for b in flatbuffer[i : i + 12]) for i in range(0, len(flatbuffer), 12)]
    source = f"""\
// Generated by `selectkit export` from {Path(str(meta['source'])).name}; do not edit.
#include "model_data.h"

alignas(16) const unsigned char g_model_data[] = {{
    {(',' + chr(10) + '    ').join(rows)}
}};
const unsigned int g_model_data_len = {len(flatbuffer)};

const char* const g_model_sensor_names[MODEL_NUM_SENSORS] = {{{', '.join(json.dumps(str(n)) for n in meta['sensors'])}}};
const char* const g_model_class_names[MODEL_NUM_CLASSES] = {{{', '.join(json.dumps(str(n)) for n in meta['classes'])}}};
const float g_model_norm_mean[MODEL_NUM_SENSORS][MODEL_NUM_AXES] = {_c_array(mean)};
const float g_model_norm_std[MODEL_NUM_SENSORS][MODEL_NUM_AXES] = {_c_array(std)};
"""
    return header, source


def _probe_main(argv: list[str]) -> int:
    """Child process: ``MODEL ARENA [INPUTS.npy OUTPUTS.npy]``; exit 0 when the model ran."""
    from tflite_micro.python.tflite_micro import runtime

    model, arena = Path(argv[0]), int(argv[1])
    try:
        interp = runtime.Interpreter.from_bytes(model.read_bytes(), arena_size=arena)
        shape = tuple(interp.get_input_details(0)["shape"])
        # Allocation happens lazily for some kernels; one invocation proves the arena suffices.
        interp.set_input(np.zeros(shape, dtype=np.int8), 0)
        interp.invoke()
        if len(argv) > 2:
            outs = []
            for window in np.load(argv[2]):
                interp.set_input(window.reshape(shape), 0)
                interp.invoke()
                outs.append(interp.get_output(0).reshape(-1).copy())
            np.save(argv[3], np.stack(outs))
    except RuntimeError as err:
        print(f"TFLite-Micro: {err}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(_probe_main(sys.argv[1:]))
