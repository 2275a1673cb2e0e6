"""AttentionTopK against a straightforward loop-by-loop computation."""

import math

import pytest
import torch

from selectkit.selection import AttentionTopK, SelectionContext, attention_scores


def naive_scores(q, k, *, normalize, causal, aggregate):
    b, h, nq, d = q.shape
    hk, n = k.shape[1], k.shape[2]
    out = torch.zeros(b, h, n, dtype=torch.float64)
    for bi in range(b):
        for hi in range(h):
            kh = hi // (h // hk)
            for qi in range(nq):
                pos = n - nq + qi
                logits = [float(q[bi, hi, qi] @ k[bi, kh, j]) / math.sqrt(d) for j in range(n)]
                allowed = [j for j in range(n) if not causal or j <= pos]
                if normalize == "softmax":
                    m = max(logits[j] for j in allowed)
                    z = sum(math.exp(logits[j] - m) for j in allowed)
                    for j in allowed:
                        out[bi, hi, j] += math.exp(logits[j] - m) / z
                else:
                    for j in allowed:
                        out[bi, hi, j] += logits[j]
    return {"mean": out.mean(1), "sum": out.sum(1), "max": out.max(1).values}[aggregate]


def naive_pool_topk(scores, kernel, k, keep_last, keep_first):
    b, n = scores.shape
    rows = []
    for bi in range(b):
        pooled = []
        for i in range(n):
            lo, hi = max(0, i - kernel // 2), min(n, i + kernel // 2 + 1)
            pooled.append(sum(float(scores[bi, j]) for j in range(lo, hi)) / (hi - lo))
        forced = set(range(keep_first)) | set(range(n - keep_last, n))
        rest = sorted((i for i in range(n) if i not in forced), key=lambda i: (-pooled[i], i))
        rows.append(sorted(forced | set(rest[: k - len(forced)])))
    return rows


@pytest.mark.parametrize("normalize", ["softmax", "none"])
@pytest.mark.parametrize("aggregate", ["mean", "sum", "max"])
@pytest.mark.parametrize("window", [1, 4])
def test_scores_match_naive_gqa(normalize, aggregate, window):
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 6, window, 8, generator=g)
    k = torch.randn(2, 2, 11, 8, generator=g)  # 6 query heads share 2 key heads
    got = attention_scores(q, k, normalize=normalize, causal=True, aggregate=aggregate)
    want = naive_scores(q.double(), k.double(), normalize=normalize, causal=True, aggregate=aggregate)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel", [1, 3, 5])
@pytest.mark.parametrize("keep_last, keep_first", [(1, 0), (3, 0), (1, 2), (0, 0)])
def test_selected_indices_match_naive(kernel, keep_last, keep_first):
    g = torch.Generator().manual_seed(2)
    q = torch.randn(3, 4, 2, 8, generator=g)
    k = torch.randn(3, 2, 20, 8, generator=g)
    hidden = torch.randn(3, 20, 16, generator=g)
    sel = AttentionTopK(k=7, window=2, pool_kernel=kernel, keep_last=keep_last, keep_first=keep_first).eval()
    out, selection = sel(hidden, SelectionContext(query=q, keys=k))
    raw = naive_scores(q.double(), k.double(), normalize="softmax", causal=True, aggregate="mean")
    want = naive_pool_topk(raw, kernel, 7, keep_last, keep_first)
    assert selection.indices.tolist() == want
    assert out.shape == (3, 7, 16)
    for b in range(3):
        torch.testing.assert_close(out[b], hidden[b, want[b]])


def test_scores_from_the_input_when_no_context():
    x = torch.randn(2, 10, 4)
    x[:, 3] = x[:, -1] * 3  # strongly aligned with the last item
    sel = AttentionTopK(k=2, pool_kernel=1, normalize="none")
    _, selection = sel(x)
    assert selection.indices.tolist() == [[3, 9], [3, 9]]


def test_variable_length_and_keep_ratio():
    sel = AttentionTopK(keep_ratio=0.25, pool_kernel=1)
    for n in (8, 13, 40):
        _, selection = sel(torch.randn(1, n, 4))
        assert selection.indices.shape == (1, math.ceil(0.25 * n))
        assert selection.indices[0, -1] == n - 1  # the last token is always kept


def test_bad_inputs():
    with pytest.raises(ValueError, match="multiple of key heads"):
        attention_scores(torch.randn(1, 3, 1, 4), torch.randn(1, 2, 5, 4))
    with pytest.raises(ValueError, match="forced positions exceed k=2"):
        AttentionTopK(k=2, keep_last=2, keep_first=1)
    with pytest.raises(ValueError, match=r"k=9 must be <= num_items=8"):
        AttentionTopK(k=9)(torch.randn(1, 8, 4))
    with pytest.raises(ValueError, match="both query and keys"):
        AttentionTopK(k=2)(torch.randn(1, 8, 4), SelectionContext(query=torch.randn(1, 1, 1, 4)))
    with pytest.raises(ValueError, match="ctx.keys has 5 positions"):
        AttentionTopK(k=2)(torch.randn(1, 8, 4), SelectionContext(query=torch.randn(1, 1, 1, 4), keys=torch.randn(1, 1, 5, 4)))
    with pytest.raises(ValueError, match="window=9"):
        AttentionTopK(k=2, window=9)(torch.randn(1, 8, 4))
    with pytest.raises(ValueError, match="ctx.query contains non-finite"):
        q = torch.full((1, 1, 1, 4), float("nan"))
        AttentionTopK(k=2)(torch.randn(1, 8, 4), SelectionContext(query=q, keys=torch.randn(1, 1, 8, 4)))


@pytest.mark.parametrize("aggregate", ["mean", "sum", "max"])
@pytest.mark.parametrize("window", [1, 5, 11])
def test_per_kv_head_scores_and_chunked_queries_match_naive(aggregate, window):
    g = torch.Generator().manual_seed(3)
    q = torch.randn(2, 6, window, 8, generator=g)
    k = torch.randn(2, 2, 11, 8, generator=g)
    per_head = torch.zeros(2, 6, 11, dtype=torch.float64)
    for h in range(6):  # the naive loop per single head, then grouped by the key head it reads
        per_head[:, h] = naive_scores(q[:, h : h + 1].double(), k[:, h // 3 : h // 3 + 1].double(), normalize="softmax",
                                      causal=True, aggregate="sum")
    grouped = per_head.reshape(2, 2, 3, 11)
    want = {"mean": grouped.mean(2), "sum": grouped.sum(2), "max": grouped.max(2).values}[aggregate]
    for chunk in (None, 1, 4):
        got = attention_scores(q, k, aggregate=aggregate, per_kv_head=True, query_chunk=chunk)
        assert got.shape == (2, 2, 11)
        torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)


def test_positions_per_kv_head_keep_the_window():
    g = torch.Generator().manual_seed(4)
    q = torch.randn(1, 4, 3, 8, generator=g)
    k = torch.randn(1, 2, 20, 8, generator=g)
    sel = AttentionTopK(k=6, keep_last=3, per_kv_head=True, pool_kernel=1)
    pos = sel.positions(SelectionContext(query=q, keys=k))
    assert pos.shape == (1, 2, 6)
    scores = attention_scores(q, k, per_kv_head=True)
    for h in range(2):
        assert pos[0, h, -3:].tolist() == [17, 18, 19]
        rest = torch.topk(scores[0, h, :17], 3).indices.sort().values
        assert pos[0, h, :3].tolist() == rest.tolist()


def test_per_kv_head_and_chunk_errors():
    with pytest.raises(ValueError, match="per_kv_head=True needs aggregate"):
        attention_scores(torch.randn(1, 2, 1, 4), torch.randn(1, 1, 5, 4), aggregate=None, per_kv_head=True)
    with pytest.raises(ValueError, match="query_chunk=0 must be a positive integer"):
        attention_scores(torch.randn(1, 2, 1, 4), torch.randn(1, 1, 5, 4), query_chunk=0)
