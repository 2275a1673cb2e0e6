import math

import pytest
import torch

from selectkit.selection import make_schedule
from selectkit.selection.ops import (
    apply_item_weights,
    gather_items,
    greedy_cost_indices,
    gumbel_noise,
    indices_to_mask,
    pool1d,
    straight_through,
    topk_indices,
)


def test_topk_sorted_positions_and_ties_to_lower_index():
    s = torch.tensor([[0.5, 2.0, 2.0, 1.0, 2.0]])
    assert topk_indices(s, 2).tolist() == [[1, 2]]
    assert topk_indices(s, 3).tolist() == [[1, 2, 4]]


def test_indices_to_mask_ignores_padding():
    m = indices_to_mask(torch.tensor([[0, 3, -1]]), 5)
    assert m.tolist() == [[1, 0, 0, 1, 0]]


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_gather_items_per_sample_matches_loop(dim):
    x = torch.randn(3, 4, 5, 6)
    n = x.shape[dim]
    idx = torch.stack([torch.randperm(n)[:2] for _ in range(3)])
    out = gather_items(x, idx, dim)
    for b in range(3):
        torch.testing.assert_close(out[b], x[b].index_select(dim - 1, idx[b]))
    shared = gather_items(x, idx[0], dim)
    torch.testing.assert_close(shared, x.index_select(dim, idx[0]))


def test_apply_item_weights_broadcasts_shared_and_per_sample():
    x = torch.ones(2, 3, 4)
    w = torch.tensor([1.0, 2.0, 3.0])
    assert apply_item_weights(x, w, 1)[:, :, 0].tolist() == [[1, 2, 3], [1, 2, 3]]
    wb = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert apply_item_weights(x, wb, 1)[:, :, 2].tolist() == wb.tolist()


def test_pool1d_matches_manual_average_without_padding():
    s = torch.randn(2, 9)
    out = pool1d(s, 5, "avg")
    for i in range(9):
        lo, hi = max(0, i - 2), min(9, i + 3)
        torch.testing.assert_close(out[:, i], s[:, lo:hi].mean(-1))
    mx = pool1d(s, 3, "max")
    for i in range(9):
        torch.testing.assert_close(mx[:, i], s[:, max(0, i - 1) : i + 2].max(-1).values)
    with pytest.raises(ValueError, match="pool_kernel=4"):
        pool1d(s, 4)
    with pytest.raises(ValueError, match="pool='median'"):
        pool1d(s, 3, "median")


def test_straight_through_forward_hard_backward_soft():
    soft = torch.tensor([0.2, 0.8], requires_grad=True)
    hard = (soft > 0.5).float()
    y = straight_through(hard, soft)
    assert y.tolist() == [0.0, 1.0]
    (y * torch.tensor([3.0, 5.0])).sum().backward()
    assert soft.grad.tolist() == [3.0, 5.0]


def test_gumbel_noise_statistics():
    g = gumbel_noise(torch.empty(200_000), torch.Generator().manual_seed(0))
    assert torch.isfinite(g).all()
    assert abs(float(g.mean()) - 0.5772) < 0.01  # Euler-Mascheroni constant


def test_greedy_cost_prefers_score_per_cost_and_respects_budget():
    scores = torch.tensor([4.0, 3.0, 1.0, 0.5])
    costs = torch.tensor([4.0, 1.0, 1.0, 0.1])
    kept = greedy_cost_indices(scores, costs, 2.2)
    # ratio order: 3 (5.0), 1 (3.0), 0 (1.0, does not fit), 2 (1.0)
    assert kept.tolist() == [1, 2, 3]
    assert float(costs[kept].sum()) <= 2.2
    with pytest.raises(ValueError, match="non-negative scores"):
        greedy_cost_indices(-scores, costs, 2.0)


@pytest.mark.parametrize("kind", ["constant", "linear", "exponential", "cosine"])
def test_schedules_hit_their_ends(kind):
    s = make_schedule(kind, 10.0, 0.1)
    assert s(0.0) == pytest.approx(10.0)
    assert s(1.0) == pytest.approx(10.0 if kind == "constant" else 0.1)
    assert s(2.0) == s(1.0) and s(-1.0) == s(0.0)  # clamped


def test_exponential_schedule_is_geometric():
    s = make_schedule("exponential", 10.0, 0.1)
    assert s(0.5) == pytest.approx(1.0)
    assert math.isclose(s(0.25) ** 2, s(0.0) * s(0.5))
    with pytest.raises(ValueError, match="start > 0"):
        make_schedule("exponential", 0.0, 1.0)
    with pytest.raises(ValueError, match="schedule='step'"):
        make_schedule("step", 1.0, 0.1)
