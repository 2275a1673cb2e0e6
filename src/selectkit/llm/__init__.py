"""LLM prompt selection: PromptDistill, GemFilter, SnapKV and H2O prefill on Llama-family models.

All strategies score tokens with the shared :class:`selectkit.selection.AttentionTopK`.

>>> from selectkit.llm import load_model, encode_prompt, create_strategy, generate
>>> model, tok = load_model()                       # SmolLM2-135M-Instruct, offline
>>> ids = encode_prompt(tok, open("prompt.txt").read())
>>> result = create_strategy("promptdistill", k=1024, layer=12)(model, ids)
>>> print(tok.decode(generate(model, result, 32, tok.eos_token_id)[0]))
"""

from selectkit.llm import model as _model
from selectkit.llm import prefill as _prefill
from selectkit.llm.model import *  # noqa: F403
from selectkit.llm.prefill import *  # noqa: F403

__all__ = [*_model.__all__, *_prefill.__all__]
