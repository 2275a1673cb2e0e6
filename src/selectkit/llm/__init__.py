"""LLM prompt selection: PromptDistill, GemFilter, SnapKV and H2O prefill on Llama-family models.

All strategies score tokens with the shared :class:`selectkit.selection.AttentionTopK`.

>>> from selectkit.llm import load_model, encode_prompt, create_strategy, generate
>>> model, tok = load_model()                       # SmolLM2-135M-Instruct, offline
>>> ids = encode_prompt(tok, open("prompt.txt").read())
>>> result = create_strategy("promptdistill", k=1024, layer=12)(model, ids)
>>> print(tok.decode(generate(model, result, 32, tok.eos_token_id)[0]))
"""

from selectkit.llm.model import SUPPORTED_MODEL_TYPES, check_model, encode_prompt, load_model, smollm2_dir
from selectkit.llm.prefill import (
    H2O,
    Full,
    GemFilter,
    PrefillResult,
    PrefillStrategy,
    PromptDistill,
    SnapKV,
    create_strategy,
    generate,
    list_strategies,
    prefill_shared,
)

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "check_model",
    "encode_prompt",
    "load_model",
    "smollm2_dir",
    "PrefillResult",
    "PrefillStrategy",
    "Full",
    "PromptDistill",
    "GemFilter",
    "SnapKV",
    "H2O",
    "create_strategy",
    "generate",
    "list_strategies",
    "prefill_shared",
]
