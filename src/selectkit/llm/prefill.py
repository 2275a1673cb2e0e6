"""Prefill strategies for long prompts: ``full``, ``promptdistill``, ``gemfilter``, ``snapkv``, ``h2o``.

Every strategy runs the model's decoder layers one by one and scores tokens with the shared
:class:`~selectkit.selection.AttentionTopK` (post-RoPE queries against the cached keys, GQA-aware),
so the methods differ only in *where* they score and *what* they do with the choice:

=============  ===========================================================================
``full``       ordinary prefill (the reference)
promptdistill  layers ``0..L`` on the whole prompt; at ``L`` the last query scores the keys
               (mean over heads, avg-pooled); the top-``k`` tokens plus the last one keep their
               *hidden states* and original position ids, layers ``L+1..`` run on them only;
               optionally the cache of layers ``<= L`` is truncated to them; several
               ``(layer, k)`` stages narrow the prompt step by step
               (Jin et al., *PromptDistill*, arXiv:2503.23274)
gemfilter      layers ``0..r``, the same scoring, then the whole model re-runs on the selected
               token ids as a new, shorter prompt (Shi et al., *GemFilter*, arXiv:2409.17422)
snapkv         full prefill; per layer and KV head keep the entries the last ``window`` queries
               attend to most (pooled), the window appended (Li et al., *SnapKV*, 2024)
h2o            full prefill; per layer and KV head keep the "heavy hitters" (attention
               accumulated over all prompt queries) plus a recent window
               (Zhang et al., *H2O*, 2023)
=============  ===========================================================================

Budget: ``k`` is the number of prompt tokens kept (promptdistill, gemfilter) or of cache entries
kept per layer and KV head (snapkv, h2o), the last token / window included; ``keep_ratio`` is the
same as a fraction of the prompt, rounded up. **A budget ``k`` >= the prompt length falls back to
the full prefill with a logged notice** (nothing to select; ``PrefillResult.fallback`` is True).
``keep_ratio=1.0`` instead runs the strategy's own path keeping every token, which reproduces the
full prefill exactly -- the check that the layer splitting is right.

Each strategy returns a :class:`PrefillResult` whose cache :func:`generate` continues from
(greedy decoding; batch size >= 1 without padding).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import logging
from dataclasses import dataclass
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor, nn

from selectkit.llm.model import check_model
from selectkit.selection import AttentionTopK, SelectionContext
from selectkit.selection.ops import gather_items
from selectkit.validation import check_budget, resolve_k

__all__ = [
    "PrefillResult",
    "PrefillStrategy",
    "Full",
    "PromptDistill",
    "GemFilter",
    "SnapKV",
    "H2O",
    "create_strategy",
    "list_strategies",
    "generate",
    "prefill_shared",
]

log = logging.getLogger(__name__)

_STRATEGIES: dict[str, type[PrefillStrategy]] = {}


def _register(cls):
    _STRATEGIES[cls.name] = cls
    return cls


def list_strategies() -> list[str]:
    """Names of the prefill strategies, ``full`` first."""
    return list(_STRATEGIES)


def create_strategy(name: str, **kwargs) -> PrefillStrategy:
    """A strategy by name, e.g. ``create_strategy("promptdistill", k=1024, layer=12)``."""
    if name not in _STRATEGIES:
        raise ValueError(f"strategy={name!r} must be one of {list_strategies()}")
    return _STRATEGIES[name](**kwargs)


@dataclass
class PrefillResult:
    """What a prefill leaves for decoding.

    Attributes:
        strategy: the strategy that ran (``"full"`` after a fallback).
        logits: ``(B, V)`` next-token logits at the last prompt position.
        cache: the key/value cache, one layer per decoder layer, ``(B, H_kv, n_layer, d)`` each.
        next_position: position id of the first generated token (the prompt length, or ``k``
            for GemFilter, whose second pass is a new prompt).
        num_tokens: prompt length ``N``.
        kept: ``(B, k)`` original positions of the kept prompt tokens (promptdistill, gemfilter),
            or ``(B, num_layers, H_kv, k)`` kept cache positions per layer and KV head (snapkv,
            h2o); ``None`` for the full prefill.
        fallback: the budget covered the prompt, so the full prefill ran instead.
    """

    strategy: str
    logits: Tensor
    cache: object
    next_position: int
    num_tokens: int
    kept: Tensor | None = None
    fallback: bool = False

    @property
    def cache_lengths(self) -> list[int]:
        """Cached positions per layer (per KV head, the same for every head)."""
        return [layer.keys.shape[-2] for layer in self.cache.layers]

    @property
    def num_kept(self) -> int:
        """Prompt tokens kept (token strategies) or cache entries per KV head (KV strategies)."""
        return self.num_tokens if self.kept is None else int(self.kept.shape[-1])

    @property
    def cache_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for layer in self.cache.layers for t in (layer.keys, layer.values))


class _Layers:
    """A Llama-family model run one decoder layer at a time."""

    def __init__(self, model: nn.Module) -> None:
        check_model(model)
        self.model = model
        self.core = model.model
        self.layers = self.core.layers
        self.num_layers = len(self.layers)
        self.head_dim = self.layers[0].self_attn.head_dim
        self.sliding_window = getattr(model.config, "sliding_window", None)

    def start(self, input_ids: Tensor, positions: Tensor | None = None) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
        """Embeddings ``(B, N, D)``, positions ``(B, N)`` and RoPE ``(cos, sin)`` each ``(B, N, d)``."""
        hidden = self.core.embed_tokens(input_ids)
        if positions is None:
            positions = torch.arange(input_ids.shape[1], device=input_ids.device).repeat(input_ids.shape[0], 1)
        return hidden, positions, self.core.rotary_emb(hidden, position_ids=positions)

    def run(self, index: int, hidden: Tensor, rope: tuple[Tensor, Tensor], cache) -> Tensor:
        # No mask: SDPA applies the causal mask for a block of queries over as many keys
        # (positions ascend, so index order is position order); one decode query sees everything.
        return self.layers[index](hidden, attention_mask=None, position_embeddings=rope, cache=cache, use_cache=True)

    def queries(self, index: int, hidden_in: Tensor, rope: tuple[Tensor, Tensor], rows: int) -> Tensor:
        """Post-RoPE queries ``(B, H, rows, d)`` of the last ``rows`` tokens at layer ``index``,
        from the layer's input ``hidden_in`` ``(B, N, D)`` -- what its attention computes."""
        from transformers.models.llama.modeling_llama import rotate_half

        layer = self.layers[index]
        x = layer.input_layernorm(hidden_in[:, -rows:])
        q = layer.self_attn.q_proj(x).view(x.shape[0], rows, -1, self.head_dim).transpose(1, 2)
        cos, sin = (t[:, -rows:].unsqueeze(1) for t in rope)
        return q * cos + rotate_half(q) * sin

    def logits(self, last_hidden: Tensor) -> Tensor:
        """``(B, D)`` last hidden state -> ``(B, V)`` next-token logits."""
        return self.model.lm_head(self.core.norm(last_hidden)).float()

    def check_layer(self, layer: int, name: str = "layer") -> None:
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < self.num_layers:
            raise ValueError(f"{name}={layer!r} is out of range: the model has {self.num_layers} layers (0..{self.num_layers - 1})")


def _new_cache():
    from transformers import DynamicCache

    # No config: plain full-attention layers whose tensors we may gather in place.
    return DynamicCache()


def _check_ids(input_ids: Tensor) -> Tensor:
    if not isinstance(input_ids, Tensor) or input_ids.dtype != torch.long or input_ids.ndim != 2:
        raise ValueError(f"input_ids must be an int64 tensor (B, N); got {getattr(input_ids, 'dtype', type(input_ids))} "
                         f"with shape {tuple(getattr(input_ids, 'shape', ()))}")
    if input_ids.shape[1] == 0 or input_ids.shape[0] == 0:
        raise ValueError(f"prompt is empty: input_ids has shape {tuple(input_ids.shape)}")
    return input_ids


def _gather_cache_layer(layer, index: Tensor) -> None:
    """Keep the cache entries ``index`` -- ``(B, k)`` shared by the heads or ``(B, H_kv, k)`` per
    head -- of one cache layer ``(B, H_kv, n, d)``."""
    keys = layer.keys
    if index.ndim == 2:
        index = index.unsqueeze(1).expand(-1, keys.shape[1], -1)
    full = index.unsqueeze(-1).expand(-1, -1, -1, keys.shape[-1])
    layer.keys = torch.gather(keys, 2, full)
    layer.values = torch.gather(layer.values, 2, full)


class PrefillStrategy(ABC):
    """Base class: validate the prompt and budget, fall back when nothing is to be selected.

    Subclasses implement :meth:`_prefill` ``(runner, input_ids (B, N), k) -> PrefillResult``.

    Args:
        k: tokens / cache entries kept (see the module docstring); ``None`` with ``keep_ratio``.
        keep_ratio: the budget as a fraction of the prompt, in ``(0, 1]``, rounded up.
    """

    name: ClassVar[str] = ""
    budget_required: ClassVar[bool] = True

    def __init__(self, k: int | None = None, keep_ratio: float | None = None) -> None:
        check_budget(k, keep_ratio, None, required=self.budget_required)
        self.k = k
        self.keep_ratio = keep_ratio

    def num_kept(self, num_tokens: int) -> int | None:
        """Budget for a prompt of ``num_tokens``; ``None`` when it covers the prompt (fallback)."""
        if self.k is None and self.keep_ratio is None:
            return None
        if self.k is not None and self.k >= num_tokens:
            return None
        return resolve_k(self.k, self.keep_ratio, num_tokens)

    @torch.inference_mode()
    def __call__(self, model: nn.Module, input_ids: Tensor) -> PrefillResult:
        """Prefill ``input_ids`` ``(B, N)``; returns logits, cache and what was kept."""
        runner = _Layers(model)
        input_ids = _check_ids(input_ids)
        n = input_ids.shape[1]
        if runner.sliding_window is not None and n > runner.sliding_window:
            raise ValueError(f"prompt of {n} tokens exceeds the model's sliding_window={runner.sliding_window}, which the strategies do not apply")
        self.validate(runner)
        k = self.num_kept(n)
        if k is None:
            if self.name != "full":
                log.warning("%s: budget k=%s covers the %d-token prompt; running the full prefill instead", self.name, self.k, n)
            result = _full_prefill(runner, input_ids)[0]
            result.fallback = self.name != "full"
            return result
        return self._prefill(runner, input_ids, k)

    def validate(self, runner: _Layers) -> None:
        """Model-dependent parameter checks (layer indices)."""

    @abstractmethod
    def _prefill(self, runner: _Layers, input_ids: Tensor, k: int) -> PrefillResult:
        """The strategy itself, once the budget ``k`` is below the prompt length."""

    def _budget_repr(self) -> str:
        return f"k={self.k}" if self.k is not None else f"keep_ratio={self.keep_ratio}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._budget_repr()})"


def _full_prefill(runner: _Layers, input_ids: Tensor, presses: tuple[_KVPress, ...] = (), budgets: tuple[int, ...] = ()):
    """Ordinary prefill; each KV press gets its own copy of every layer's cache, compressed.

    Returns the full result and one result per press (their logits are the full ones: eviction
    after a layer ran changes only what later *decoding* steps see).
    """
    hidden, positions, rope = runner.start(input_ids)
    cache = _new_cache()
    pressed = [(_new_cache(), []) for _ in presses]
    for i in range(runner.num_layers):
        hidden_in = hidden
        hidden = runner.run(i, hidden, rope, cache)
        for press, k, (press_cache, kept) in zip(presses, budgets, pressed):
            index = press.select(runner, i, hidden_in, rope, cache.layers[i].keys, k)  # (B, H_kv, k)
            press_cache.update(cache.layers[i].keys, cache.layers[i].values, i)
            _gather_cache_layer(press_cache.layers[i], index)
            kept.append(index)
    logits = runner.logits(hidden[:, -1])
    n = input_ids.shape[1]
    full = PrefillResult("full", logits, cache, next_position=n, num_tokens=n)
    return full, [
        PrefillResult(press.name, logits, press_cache, next_position=n, num_tokens=n, kept=torch.stack(kept, dim=1))
        for press, (press_cache, kept) in zip(presses, pressed)
    ]


@_register
class Full(PrefillStrategy):
    """Ordinary prefill of the whole prompt (the reference); no budget."""

    name = "full"
    budget_required = False

    def _prefill(self, runner, input_ids, k):  # pragma: no cover - num_kept is always None
        return _full_prefill(runner, input_ids)[0]

    def __repr__(self) -> str:
        return "Full()"


class _TokenScoring:
    """The last-query scorer shared by PromptDistill and GemFilter (mean over heads, pooled,
    last token forced)."""

    pool_kernel: int

    def _selector(self, k: int) -> AttentionTopK:
        return AttentionTopK(k=k, window=1, aggregate="mean", normalize="softmax", pool="avg", pool_kernel=self.pool_kernel, keep_last=1)


@_register
class PromptDistill(_TokenScoring, PrefillStrategy):
    """PromptDistill (Jin et al., arXiv:2503.23274): select at layer ``L``, keep the hidden states.

    Layers ``0..L`` see the whole prompt ``(B, N, D)``; at ``L`` the last token's post-RoPE query
    scores all keys ``(B, H_kv, N, d)`` (softmax, mean over query heads, average-pooled over
    ``pool_kernel`` tokens); the hidden states of the top-``k`` tokens plus the last one,
    ``(B, k, D)``, continue through layers ``L+1..`` with their original position ids. The cache
    of layers ``<= L`` keeps all ``N`` positions unless ``truncate_cache``.

    Args:
        k, keep_ratio: budget of the (last) stage.
        layer: the selection layer ``L`` (single stage).
        stages: several ``(layer, k)`` pairs, layers ascending and budgets descending, instead of
            ``layer`` + ``k``; each stage selects among the tokens the previous one kept.
        truncate_cache: shrink the cache of every layer before a stage to the tokens that stage
            kept, so decoding attends to the kept tokens only in every layer.
        pool_kernel: odd average-pooling width over neighbouring tokens (5 in the paper).
    """

    name = "promptdistill"

    def __init__(self, k: int | None = None, keep_ratio: float | None = None, *, layer: int = 12,
                 stages: list[tuple[int, int]] | None = None, truncate_cache: bool = False, pool_kernel: int = 5) -> None:
        if stages is not None:
            if k is not None or keep_ratio is not None:
                raise ValueError(f"give stages or k/keep_ratio, not both (got stages={stages!r}, k={k!r}, keep_ratio={keep_ratio!r})")
            stages = [tuple(s) for s in stages]
            if not stages or any(len(s) != 2 for s in stages):
                raise ValueError(f"stages={stages!r} must be a non-empty list of (layer, k) pairs")
            for (l0, k0), (l1, k1) in zip(stages, stages[1:]):
                if not (l1 > l0 and k1 < k0):
                    raise ValueError(f"stages={stages!r}: layers must ascend and budgets k descend")
            for _, ks in stages:
                check_budget(ks, None, None)
            k = stages[0][1]
        super().__init__(k, keep_ratio)
        self.stages = stages
        self.layer = layer
        self.truncate_cache = bool(truncate_cache)
        self.pool_kernel = pool_kernel
        self._selector(1 if k is None else k)  # validates pool_kernel early

    def validate(self, runner):
        for layer, _ in self.stages or [(self.layer, None)]:
            runner.check_layer(layer)

    def _prefill(self, runner, input_ids, k):
        stages = dict(self.stages) if self.stages else {self.layer: k}
        hidden, positions, rope = runner.start(input_ids)
        cache = _new_cache()
        held: list[Tensor] = []  # original positions each layer's cache holds, (B, n_i) ascending
        for i in range(runner.num_layers):
            hidden_in = hidden
            hidden = runner.run(i, hidden, rope, cache)
            held.append(positions)
            if i not in stages:
                continue
            ctx = SelectionContext(query=runner.queries(i, hidden_in, rope, 1), keys=cache.layers[i].keys)
            hidden, selection = self._selector(min(stages[i], hidden.shape[1]))(hidden, ctx)  # (B, k, D)
            index = selection.indices  # (B, k) into the current tokens
            positions = gather_items(positions, index, 1)
            rope = tuple(gather_items(t, index, 1) for t in rope)
            if self.truncate_cache:
                for j in range(i + 1):
                    _gather_cache_layer(cache.layers[j], torch.searchsorted(held[j], positions))
                    held[j] = positions
        n = input_ids.shape[1]
        return PrefillResult(self.name, runner.logits(hidden[:, -1]), cache, next_position=n, num_tokens=n, kept=positions)

    def __repr__(self) -> str:
        where = f"stages={self.stages}" if self.stages else f"{self._budget_repr()}, layer={self.layer}"
        return f"PromptDistill({where}, truncate_cache={self.truncate_cache})"


@_register
class GemFilter(_TokenScoring, PrefillStrategy):
    """GemFilter (Shi et al., arXiv:2409.17422): select at layer ``r``, re-run on the kept ids.

    Layers ``0..r`` run on the whole prompt; the same last-query scoring as
    :class:`PromptDistill` picks ``k`` token ids ``(B, k)`` (last token included); then the whole
    model prefills those ids alone as a new prompt (positions ``0..k-1``), and decoding continues
    at position ``k``.
    """

    name = "gemfilter"

    def __init__(self, k: int | None = None, keep_ratio: float | None = None, *, layer: int = 12, pool_kernel: int = 5) -> None:
        super().__init__(k, keep_ratio)
        self.layer = layer
        self.pool_kernel = pool_kernel
        self._selector(1 if k is None else k)

    def validate(self, runner):
        runner.check_layer(self.layer)

    def _prefill(self, runner, input_ids, k):
        hidden, _, rope = runner.start(input_ids)
        cache = _new_cache()
        for i in range(self.layer + 1):
            hidden_in = hidden
            hidden = runner.run(i, hidden, rope, cache)
        ctx = SelectionContext(query=runner.queries(self.layer, hidden_in, rope, 1), keys=cache.layers[self.layer].keys)
        index = self._selector(k).positions(ctx)  # (B, k)
        del cache, hidden
        result, _ = _full_prefill(runner, torch.gather(input_ids, 1, index))
        result.strategy, result.num_tokens, result.kept = self.name, input_ids.shape[1], index
        return result

    def __repr__(self) -> str:
        return f"GemFilter({self._budget_repr()}, layer={self.layer})"


class _KVPress(PrefillStrategy):
    """A full prefill whose cache is then thinned per layer and KV head (SnapKV, H2O)."""

    @abstractmethod
    def _scorer(self, k: int) -> AttentionTopK:
        """The per-KV-head scorer that keeps ``k`` cache entries."""

    @abstractmethod
    def query_rows(self, num_tokens: int) -> int:
        """How many of the last prompt queries the scorer needs."""

    def select(self, runner: _Layers, index: int, hidden_in: Tensor, rope, keys: Tensor, k: int) -> Tensor:
        """Kept cache positions ``(B, H_kv, k)`` of layer ``index`` from its keys ``(B, H_kv, N, d)``."""
        rows = self.query_rows(keys.shape[2])
        ctx = SelectionContext(query=runner.queries(index, hidden_in, rope, rows), keys=keys)
        return self._scorer(k).positions(ctx)

    def _prefill(self, runner, input_ids, k):
        _, (result,) = _full_prefill(runner, input_ids, (self,), (k,))
        return result


@_register
class SnapKV(_KVPress):
    """SnapKV (Li et al., 2024): keep what the observation window attends to, per KV head.

    After the full prefill of each layer, the last ``window`` queries ``(B, H, w, d)`` score the
    keys ``(B, H_kv, N, d)`` (softmax, summed over the window, mean over the query heads of each
    key head, average-pooled); each KV head keeps its top ``k - window`` positions plus the window.
    """

    name = "snapkv"

    def __init__(self, k: int | None = None, keep_ratio: float | None = None, *, window: int = 32, pool_kernel: int = 5) -> None:
        super().__init__(k, keep_ratio)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window={window!r} must be an integer >= 1")
        self.window = window
        self.pool_kernel = pool_kernel
        self._scorer(max(window, k or window))

    def query_rows(self, num_tokens):
        return min(self.window, num_tokens)

    def _scorer(self, k):
        return AttentionTopK(k=k, aggregate="mean", pool="avg", pool_kernel=self.pool_kernel, keep_last=min(self.window, k),
                             per_kv_head=True)


@_register
class H2O(_KVPress):
    """H2O (Zhang et al., 2023): heavy hitters plus a recent window, per KV head.

    After the full prefill of each layer, every prompt query ``(B, H, N, d)`` attends causally to
    the keys ``(B, H_kv, N, d)``; the attention each key receives, summed over queries and over
    the query heads of its key head, ranks the "heavy hitters". Each KV head keeps its top
    ``k - recent`` of them plus the ``recent`` last positions (default ``k // 2``: the paper's
    equal split between heavy and recent).
    """

    name = "h2o"

    def __init__(self, k: int | None = None, keep_ratio: float | None = None, *, recent: int | None = None, query_chunk: int = 512) -> None:
        super().__init__(k, keep_ratio)
        if recent is not None and (isinstance(recent, bool) or not isinstance(recent, int) or recent < 0):
            raise ValueError(f"recent={recent!r} must be an integer >= 0")
        if recent is not None and k is not None and recent > k:
            raise ValueError(f"recent={recent} must be <= k={k}")
        if isinstance(query_chunk, bool) or not isinstance(query_chunk, int) or query_chunk < 1:
            raise ValueError(f"query_chunk={query_chunk!r} must be an integer >= 1")
        self.recent = recent
        self.query_chunk = query_chunk

    def query_rows(self, num_tokens):
        return num_tokens

    def _scorer(self, k):
        recent = k // 2 if self.recent is None else min(self.recent, k)
        return AttentionTopK(k=k, aggregate="sum", pool_kernel=1, keep_last=recent, per_kv_head=True, query_chunk=self.query_chunk)


@torch.inference_mode()
def prefill_shared(model: nn.Module, input_ids: Tensor, presses: list[_KVPress]) -> tuple[PrefillResult, list[PrefillResult]]:
    """One full prefill serving several KV strategies: ``(full result, [one per press])``.

    The results equal separate calls of each strategy (their choices read the same keys and
    queries); for evaluations that need them all without paying the full prefill again. Time
    each strategy with its own call.
    """
    runner = _Layers(model)
    input_ids = _check_ids(input_ids)
    n = input_ids.shape[1]
    budgets = []
    for press in presses:
        k = press.num_kept(n)
        if k is None:
            raise ValueError(f"{press!r} keeps the whole {n}-token prompt; call it on its own for the full-prefill fallback")
        budgets.append(k)
    return _full_prefill(runner, input_ids, tuple(presses), tuple(budgets))


@torch.inference_mode()
def generate(
    model: nn.Module,
    result: PrefillResult,
    max_new_tokens: int = 32,
    eos_token_id: int | list[int] | None = None,
    stop: Callable[[Tensor], bool] | None = None,
) -> Tensor:
    """Greedy decoding from a prefill: ``(B, T)`` new token ids, ``T <= max_new_tokens``.

    The first token is the argmax of ``result.logits``; each further step is one ordinary
    ``model(...)`` call on the previous token with the cache (extended in place) and an explicit
    position id continuing at ``result.next_position``. Stops early when every row produced an
    end-of-sequence token, or when ``stop(tokens so far (B, t))`` returns True.
    """
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens!r} must be an integer >= 1")
    eos = set([eos_token_id] if isinstance(eos_token_id, int) else (eos_token_id or []))
    token = result.logits.argmax(-1, keepdim=True)  # (B, 1)
    out = [token]
    done = torch.tensor([t in eos for t in token[:, 0].tolist()])
    position = result.next_position
    for _ in range(max_new_tokens - 1):
        if bool(done.all()) or (stop is not None and stop(torch.cat(out, dim=1))):
            break
        pos = torch.full_like(token, position)
        logits = model(input_ids=token, position_ids=pos, cache=result.cache, use_cache=True, logits_to_keep=1).logits
        token = logits[:, -1].argmax(-1, keepdim=True)
        done |= torch.tensor([t in eos for t in token[:, 0].tolist()])
        out.append(token)
        position += 1
    return torch.cat(out, dim=1)
