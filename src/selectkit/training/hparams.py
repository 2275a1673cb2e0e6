"""Saved hyper-parameters back into constructor arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["init_args"]


def init_args(hparams: Mapping[str, Any], cls: type | None = None) -> dict[str, Any]:
    """``hparams`` without LightningCLI's bookkeeping keys (``_class_path``, ``_instantiator``);
    with ``cls``, also without keys its constructor does not take (a CLI link may record a
    data-module value, e.g. ``nodes``, for a model that has no such argument)."""
    out = {k: v for k, v in hparams.items() if not k.startswith("_")}
    if cls is not None:
        import inspect

        params = inspect.signature(cls).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            out = {k: v for k, v in out.items() if k in params}
    return out
