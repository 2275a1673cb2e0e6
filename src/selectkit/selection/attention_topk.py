"""Training-free token retention from attention scores.

The scoring shared by the prompt-compression and KV-eviction methods:

* PromptDistill (Jin et al., arXiv:2503.23274) and GemFilter (Shi et al., arXiv:2409.17422):
  the last query against all keys of one layer, mean over heads, average-pooled, top-k plus the
  last token.
* SnapKV (Li et al., 2024): the softmax attention of an observation window of the last ``w``
  queries, summed over the window, pooled, top-k, the window itself always kept.
* H2O (Zhang et al., 2023): accumulated attention ("heavy hitters") plus a recent window.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from selectkit.selection.base import SelectionContext, Selector
from selectkit.selection.ops import items_first, pool1d, topk_indices
from selectkit.selection.registry import register_selector
from selectkit.validation import check_choice, check_finite

__all__ = ["AttentionTopK", "attention_scores"]


def attention_scores(
    query: Tensor,
    keys: Tensor,
    *,
    normalize: str = "softmax",
    causal: bool = True,
    aggregate: str | None = "mean",
    per_kv_head: bool = False,
    query_chunk: int | None = None,
) -> Tensor:
    """How much the queries attend to each key.

    Args:
        query: ``(B, H, Q, d)``; the ``Q`` queries sit at the last ``Q`` positions of the sequence.
        keys: ``(B, H_kv, N, d)`` with ``H % H_kv == 0`` (grouped-query attention: each key head
            serves ``H / H_kv`` query heads).
        normalize: ``"softmax"`` -- attention probabilities (scaled by ``1/sqrt(d)``);
            ``"none"`` -- raw scaled logits ``q . k / sqrt(d)``.
        causal: a query at position ``p`` ignores keys after ``p`` (its probabilities/logits for
            them count as 0).
        aggregate: ``"mean"``, ``"sum"`` or ``"max"`` over query heads, or ``None`` to keep them.
        per_kv_head: aggregate only within the group of query heads that shares one key head,
            giving one score row per key head (SnapKV and H2O evict per KV head).
        query_chunk: score at most this many queries at a time; bounds the ``(Q, N)`` logits when
            every prompt token is a query (H2O's accumulated attention). ``None`` = all at once.

    Returns:
        ``(B, N)`` scores, ``(B, H_kv, N)`` with ``per_kv_head=True``, or ``(B, H, N)`` with
        ``aggregate=None``; summed over the ``Q`` queries.
    """
    check_choice(normalize, "normalize", ("softmax", "none"))
    check_choice(aggregate, "aggregate", ("mean", "sum", "max", None))
    if per_kv_head and aggregate is None:
        raise ValueError("per_kv_head=True needs aggregate='mean', 'sum' or 'max' (got aggregate=None)")
    if query_chunk is not None and (isinstance(query_chunk, bool) or not isinstance(query_chunk, int) or query_chunk < 1):
        raise ValueError(f"query_chunk={query_chunk!r} must be a positive integer or None")
    if query.ndim != 4 or keys.ndim != 4:
        raise ValueError(f"query and keys must be (B, H, Q, d) and (B, H_kv, N, d); got {tuple(query.shape)} and {tuple(keys.shape)}")
    b, h, q, d = query.shape
    bk, hk, n, dk = keys.shape
    if b != bk or d != dk:
        raise ValueError(f"query {tuple(query.shape)} and keys {tuple(keys.shape)} disagree on batch or head dim")
    if h % hk != 0:
        raise ValueError(f"query heads H={h} must be a multiple of key heads H_kv={hk}")
    if q > n:
        raise ValueError(f"window={q} queries exceed the {n} keys")
    check_finite(query, "ctx.query")
    check_finite(keys, "ctx.keys")
    # Group query heads by the key head they share instead of materialising repeated keys.
    qg = query.reshape(b, hk, h // hk, q, d).float()
    kf = keys.float()
    step = q if query_chunk is None else query_chunk
    att = torch.zeros(b, hk, h // hk, n, device=query.device)
    for start in range(0, q, step):
        att += _attention_of_queries(qg[:, :, :, start : start + step], kf, n - q + start, normalize, causal)
    if per_kv_head:
        reduce_dim = 2  # the query heads of one key head: (B, H_kv, N)
    else:
        att = att.reshape(b, h, n)
        reduce_dim = 1
    if aggregate == "mean":
        return att.mean(dim=reduce_dim)
    if aggregate == "sum":
        return att.sum(dim=reduce_dim)
    if aggregate == "max":
        return att.max(dim=reduce_dim).values
    return att


def _attention_of_queries(qg: Tensor, keys: Tensor, first_pos: int, normalize: str, causal: bool) -> Tensor:
    """Attention of grouped queries ``(B, H_kv, G, Q, d)`` at positions ``first_pos..`` over
    ``keys`` ``(B, H_kv, N, d)``, summed over the queries: ``(B, H_kv, G, N)``."""
    n, q = keys.shape[2], qg.shape[3]
    logits = torch.einsum("bgrqd,bgnd->bgrqn", qg, keys) / math.sqrt(qg.shape[-1])
    future = None
    if causal:
        qpos = torch.arange(first_pos, first_pos + q, device=qg.device).unsqueeze(-1)  # (Q, 1)
        future = torch.arange(n, device=qg.device).unsqueeze(0) > qpos  # (Q, N)
        if not future.any():
            future = None
    if normalize == "softmax":
        if future is not None:
            logits = logits.masked_fill(future, float("-inf"))
        att = torch.softmax(logits, dim=-1)
    else:
        att = logits if future is None else logits.masked_fill(future, 0.0)
    return att.sum(dim=3)


@register_selector("attention_topk")
class AttentionTopK(Selector):
    """Keep the ``k`` items (tokens) the chosen queries attend to most; no training.

    Shapes: input ``(B, ..., N, ...)`` with the ``N`` tokens on ``dim`` (e.g. hidden states
    ``(B, N, D)``); scores ``(B, N)``; indices ``(B, k)`` ascending, so kept tokens keep their
    order; output gathered ``(B, ..., k, ...)`` (default) or masked.

    Scores come from ``ctx.query`` ``(B, H, Q, d)`` and ``ctx.keys`` ``(B, H_kv, N, d)``. Without
    them the input itself is used, one head: the last ``window`` items as queries and all items as
    keys (feature vectors flattened).

    Args:
        num_items: ``N``, or ``None`` to accept any length (prompts vary).
        window: number of query positions (1 = last token; SnapKV uses 32). Ignored when
            ``ctx.query`` is given.
        aggregate: head aggregation ``"mean"``, ``"sum"`` or ``"max"``.
        normalize: ``"softmax"`` or ``"none"`` (raw logits), see :func:`attention_scores`.
        pool, pool_kernel: 1-D pooling of the scores over tokens (odd kernel; 1 = none).
        keep_last: the last ``keep_last`` positions are always kept (last token / recent window).
        keep_first: the first ``keep_first`` positions are always kept (attention sinks).
        causal: apply the causal mask among the window queries.
        per_kv_head: one score row per key head, ``(B, H_kv, N)``, aggregated over the query
            heads of that key head (SnapKV / H2O evict per KV head); use :meth:`positions`,
            since ``forward`` reduces one shared item axis.
        query_chunk: bound on queries scored at once (see :func:`attention_scores`).
    """

    input_dependent = True
    trainable = False
    variable_num_items = True
    reductions = ("gather", "mask")

    def __init__(
        self,
        num_items: int | None = None,
        *,
        k: int | None = None,
        keep_ratio: float | None = None,
        dim: int = 1,
        reduction: str = "gather",
        window: int = 1,
        aggregate: str = "mean",
        normalize: str = "softmax",
        pool: str = "avg",
        pool_kernel: int = 5,
        keep_last: int = 1,
        keep_first: int = 0,
        causal: bool = True,
        per_kv_head: bool = False,
        query_chunk: int | None = None,
    ) -> None:
        super().__init__(num_items, k=k, keep_ratio=keep_ratio, dim=dim, reduction=reduction)
        for name, value, low in (("window", window, 1), ("keep_last", keep_last, 0), ("keep_first", keep_first, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}={value!r} must be an integer >= {low}")
        if pool_kernel < 1 or pool_kernel % 2 == 0:
            raise ValueError(f"pool_kernel={pool_kernel!r} must be a positive odd integer")
        if k is not None and keep_first + keep_last > k:
            raise ValueError(f"keep_first={keep_first} + keep_last={keep_last} forced positions exceed k={k}")
        self.window = window
        self.aggregate = check_choice(aggregate, "aggregate", ("mean", "sum", "max"))
        self.normalize = check_choice(normalize, "normalize", ("softmax", "none"))
        self.pool = check_choice(pool, "pool", ("avg", "max"))
        self.pool_kernel = pool_kernel
        self.keep_last = keep_last
        self.keep_first = keep_first
        self.causal = bool(causal)
        self.per_kv_head = bool(per_kv_head)
        self.query_chunk = query_chunk

    def score(self, x: Tensor | None, ctx: SelectionContext | None = None) -> Tensor:
        if ctx is not None and (ctx.query is not None or ctx.keys is not None):
            if ctx.query is None or ctx.keys is None:
                raise ValueError("ctx needs both query and keys for attention scores")
            query, keys = ctx.query, ctx.keys
            if x is not None and keys.shape[2] != x.shape[self.dim % x.ndim]:
                raise ValueError(f"ctx.keys has {keys.shape[2]} positions but x has {x.shape[self.dim % x.ndim]} items on dim={self.dim}")
        elif x is None:
            raise ValueError("AttentionTopK needs the input or ctx.query/ctx.keys to score")
        else:
            items = items_first(x, self.dim % x.ndim)  # (B, N, F)
            if self.window > items.shape[1]:
                raise ValueError(f"window={self.window} exceeds the {items.shape[1]} items")
            keys = items.unsqueeze(1)
            query = keys[:, :, -self.window :]
        scores = attention_scores(
            query, keys, normalize=self.normalize, causal=self.causal, aggregate=self.aggregate,
            per_kv_head=self.per_kv_head, query_chunk=self.query_chunk,
        )
        return pool1d(scores, self.pool_kernel, self.pool)

    @torch.no_grad()
    def positions(self, ctx: SelectionContext) -> Tensor:
        """Kept positions straight from attention: ``(B, k)``, or ``(B, H_kv, k)`` with
        ``per_kv_head``; ascending, forced first/last positions included."""
        return self.choose(self.score(None, ctx))

    def choose(self, scores: Tensor) -> Tensor:
        n = scores.shape[-1]
        k = self.num_kept(n)
        if self.keep_first + self.keep_last > k:
            raise ValueError(
                f"keep_first={self.keep_first} + keep_last={self.keep_last} forced positions exceed the budget k={k} of {n} items"
            )
        forced = scores.clone()
        forced[..., : min(self.keep_first, n)] = float("inf")
        if self.keep_last:
            forced[..., n - min(self.keep_last, n) :] = float("inf")
        return topk_indices(forced, k)
