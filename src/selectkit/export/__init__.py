"""Export of pruned models: ONNX fp32/int8, TFLite int8, TFLite-Micro check, C header.

``selectkit.export.export(ckpt, out, ...)`` is the whole pipeline (:mod:`selectkit.export.pipeline`);
the pieces are :mod:`~selectkit.export.onnx`, :mod:`~selectkit.export.tflite`,
:mod:`~selectkit.export.micro` and :mod:`~selectkit.export.parity`. Imports are lazy: the
converters pull in onnxruntime, litert-torch and TFLite-Micro, which ``import selectkit`` should not.
"""

from __future__ import annotations

from typing import Any

__all__ = ["export", "format_report", "FORMATS"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from selectkit.export import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'selectkit.export' has no attribute {name!r}")
