"""Saved hyper-parameters back into constructor arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["init_args"]


def init_args(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """``hparams`` without LightningCLI's bookkeeping keys (``_class_path``, ``_instantiator``)."""
    return {k: v for k, v in hparams.items() if not k.startswith("_")}
