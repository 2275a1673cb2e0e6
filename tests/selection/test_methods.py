"""Method-specific behaviour beyond the registry contract."""

import math

import pytest
import torch

from selectkit.selection import GumbelGates, GumbelTopK, SelectionContext, SoftSelect, WeightScores


# ------------------------------------------------------------------------------ WeightScores
def test_weight_scores_train_soft_eval_hard():
    sel = WeightScores(5, k=2)
    with torch.no_grad():
        sel.theta.copy_(torch.tensor([0.0, 2.0, -1.0, 1.0, 0.5]))
    x = torch.ones(3, 5, 4)
    out, s = sel.train()(x)
    w = 5 * torch.softmax(sel.theta, 0)
    torch.testing.assert_close(out[0, :, 0], w)  # every item, weighted
    out, s = sel.eval()(x)
    assert s.indices.tolist() == [1, 3]
    torch.testing.assert_close(out[0, :, 0], w * torch.tensor([0, 1, 0, 1, 0.0]))
    assert sel.ranking().tolist() == [1, 3, 4, 0, 2]


def test_weight_scores_gather_is_physically_smaller():
    sel = WeightScores(6, k=2, reduction="gather", dim=2).eval()
    with torch.no_grad():
        sel.theta.copy_(torch.arange(6.0))
    x = torch.randn(2, 3, 6)
    out, s = sel(x)
    assert out.shape == (2, 3, 2)
    w = sel.weights().detach()
    torch.testing.assert_close(out, (x * w)[:, :, [4, 5]])


def test_weight_scores_keep_ratio_rounds_up():
    assert WeightScores(10, keep_ratio=0.25).num_kept() == 3
    assert WeightScores(10, keep_ratio=0.3).num_kept() == 3
    assert WeightScores(10).num_kept() == 10  # no budget: keep all


def test_weight_scores_cost_budget_greedy_by_score_per_cost():
    costs = torch.tensor([100.0, 50.0, 50.0, 10.0])  # bytes/s
    sel = WeightScores(4, costs=costs, cost_budget=70.0, activation="identity")
    with torch.no_grad():
        sel.theta.copy_(torch.tensor([4.0, 2.0, 1.5, 0.1]))
    idx = sel.freeze()
    # score/cost: 0.04, 0.04, 0.03, 0.01 -> item 0 does not fit, item 1 fits, 2 does not, 3 fits
    assert idx.tolist() == [1, 3]
    assert sel.selection_cost(idx) == pytest.approx(60.0)
    _, s = sel.eval()(torch.randn(2, 4))
    assert s.indices.tolist() == [1, 3]


def test_weight_scores_cost_budget_errors():
    with pytest.raises(ValueError, match="needs per-item costs"):
        WeightScores(4, cost_budget=5.0)
    with pytest.raises(ValueError, match="below the cheapest item's cost"):
        WeightScores(4, costs=[3, 4, 5, 6], cost_budget=2.0)
    with pytest.raises(ValueError, match="give one budget"):
        WeightScores(4, k=2, costs=[3, 4, 5, 6], cost_budget=10.0)
    with pytest.raises(ValueError, match="no per-item costs"):
        WeightScores(4, k=2).selection_cost(torch.tensor([0]))


@pytest.mark.parametrize("sparsity", ["l1", "entropy"])
def test_weight_scores_sparsity_penalty(sparsity):
    sel = WeightScores(4, activation="identity", sparsity=sparsity, sparsity_weight=2.0)
    with torch.no_grad():
        sel.theta.copy_(torch.tensor([1.0, -1.0, 2.0, 0.0]))
    w = torch.tensor([1.0, 1.0, 2.0, 0.0])
    if sparsity == "l1":
        want = 2.0 * w.mean()
    else:
        p = w / w.sum()
        want = 2.0 * -(p[p > 0] * p[p > 0].log()).sum() / math.log(4)
    torch.testing.assert_close(sel.regularization(), want)
    assert float(WeightScores(4).regularization()) == 0.0
    with pytest.raises(ValueError, match="sparsity='l2'"):
        WeightScores(4, sparsity="l2")
    with pytest.raises(ValueError, match="activation='relu'"):
        WeightScores(4, activation="relu")


# ------------------------------------------------------------------------------ GumbelTopK
def test_gumbel_topk_anneal_follows_the_paper_schedule():
    sel = GumbelTopK(8, k=2)
    assert float(sel.temperature) == pytest.approx(10.0) and float(sel.threshold) == pytest.approx(3.0)
    sel.anneal(0.5)
    assert float(sel.temperature) == pytest.approx(1.0)
    assert float(sel.threshold) == pytest.approx(math.sqrt(3.0 * 1.1))
    sel.anneal(1.0)
    assert float(sel.temperature) == pytest.approx(0.1) and float(sel.threshold) == pytest.approx(1.1)


def test_gumbel_topk_duplicate_penalty_matches_formula():
    sel = GumbelTopK(5, k=3, penalty_weight=0.5)
    with torch.no_grad():
        sel.logits.copy_(torch.randn(3, 5) * 5)
    sel.anneal(0.8)
    p = torch.softmax(sel.logits / sel.temperature, -1)
    want = 0.5 * torch.relu(p.sum(0) - sel.threshold).sum()
    torch.testing.assert_close(sel.regularization(), want)


def test_gumbel_topk_resolves_duplicates_at_eval():
    sel = GumbelTopK(5, k=2)
    with torch.no_grad():
        sel.logits.copy_(torch.tensor([[5.0, 0, 0, 0, 1], [4.0, 0, 3.0, 0, 0]]))
    sel.anneal(1.0)
    # Both neurons prefer item 0; neuron 0 is more confident, neuron 1 takes its next best.
    assert sel.freeze().tolist() == [0, 2]
    x = torch.randn(3, 5, 4)
    out, _ = sel.eval()(x)
    torch.testing.assert_close(out, x[:, [0, 2]])


def test_gumbel_topk_training_output_is_a_mixture_and_straight_through_is_one_hot():
    sel = GumbelTopK(6, k=2).train()
    x = torch.randn(4, 6, 3)
    _, s = sel(x)
    torch.testing.assert_close(s.weights.sum(-1), torch.ones(2))
    assert (s.weights < 1).all()  # soft at temperature 10
    st = GumbelTopK(6, k=2, straight_through=True).train()
    _, s = st(x)
    assert set(s.weights.detach().flatten().tolist()) <= {0.0, 1.0}
    assert s.weights.requires_grad


def test_gumbel_topk_convergence_helper():
    sel = GumbelTopK(6, k=2)
    assert not sel.is_converged()
    assert sel.entropy() > 0.99  # uniform at T=10
    with torch.no_grad():
        sel.logits.copy_(torch.tensor([[0, 0, 9.0, 0, 0, 0], [0, 0, 0, 0, 0, 9.0]]))
    sel.anneal(1.0)
    assert sel.entropy() < 1e-3 and sel.is_converged(0.05)
    with torch.no_grad():
        sel.logits.copy_(torch.tensor([[0, 0, 9.0, 0, 0, 0], [0, 0, 9.0, 0, 0, 0]]))
    assert not sel.is_converged(0.05)  # converged, but onto the same item


def test_gumbel_topk_bad_schedule():
    with pytest.raises(ValueError, match="temperature"):
        GumbelTopK(5, k=2, temperature=(1.0,))
    with pytest.raises(ValueError, match="threshold=-1"):
        GumbelTopK(5, k=2, threshold=(-1.0, 1.1))
    with pytest.raises(ValueError, match="a budget is required"):
        GumbelTopK(5)


# ------------------------------------------------------------------------------ GumbelGates
@pytest.mark.parametrize("mode", ["mean", "max"])
def test_gumbel_gates_budget_penalty(mode):
    sel = GumbelGates(4, target_rate=0.25, budget_mode=mode, penalty_weight=3.0).train()
    logits = torch.tensor([[2.0, -1.0, 0.5, 0.0], [1.0, -2.0, 0.0, 3.0]])
    sel(torch.randn(2, 4, 3), SelectionContext(logits=logits))
    rates = torch.sigmoid(logits).mean(0)
    rate = rates.mean() if mode == "mean" else rates.max()
    torch.testing.assert_close(sel.regularization(), 3.0 * torch.relu(rate - 0.25) ** 2)
    torch.testing.assert_close(sel.item_rates(), rates)


def test_gumbel_gates_fixed_count_penalty_balances_the_items():
    sel = GumbelGates(4, k=1, budget_mode="max", penalty_weight=2.0).train()
    logits = torch.tensor([[9.0, -9.0, -9.0, -9.0]] * 3, requires_grad=True)  # item 0 always wins
    sel(torch.randn(3, 4, 2), SelectionContext(logits=logits))
    torch.testing.assert_close(sel.item_rates(), torch.tensor([1.0, 0.0, 0.0, 0.0]))
    penalty = sel.regularization()
    torch.testing.assert_close(penalty, torch.tensor(2.0 * 0.75**2))
    penalty.backward()
    assert logits.grad[:, 0].gt(0).all()  # lowering item 0's score lowers the penalty


def test_gumbel_gates_threshold_mode_has_variable_count():
    sel = GumbelGates(4, target_rate=0.5).eval()
    logits = torch.tensor([[2.0, -1.0, 0.5, 0.0], [-1.0, -2.0, -0.1, 3.0]])
    out, s = sel(torch.ones(2, 4, 3), SelectionContext(logits=logits))
    assert s.indices is None
    assert s.mask.tolist() == [[1, 0, 1, 0], [0, 0, 0, 1]]
    assert out[:, :, 0].tolist() == s.mask.tolist()
    with pytest.raises(ValueError, match="reduction='gather' needs k"):
        GumbelGates(4, target_rate=0.5, reduction="gather")
    with pytest.raises(ValueError, match="target_rate=1.5"):
        GumbelGates(4, target_rate=1.5)
    with pytest.raises(ValueError, match="a budget is required"):
        GumbelGates(4)


def test_gumbel_gates_top_k_per_sample_and_training_gates_are_binary():
    sel = GumbelGates(5, k=2, reduction="gather")
    x = torch.randn(8, 5, 3)
    out, s = sel.train()(x)
    assert out.shape == (8, 2, 3)
    assert set(s.weights.detach().flatten().tolist()) <= {0.0, 1.0}
    out, s = sel.eval()(x)
    assert out.shape == (8, 2, 3)
    assert torch.equal(s.indices, torch.sort(torch.topk(s.scores, 2).indices, -1).values)
    assert abs(sel.target_rate - 0.4) < 1e-9


def test_gumbel_gates_custom_scorer_and_bad_logits():
    scorer = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(5 * 3, 5))
    sel = GumbelGates(5, k=1, scorer=scorer)
    _, s = sel.eval()(torch.randn(2, 5, 3))
    assert s.indices.shape == (2, 1)
    with pytest.raises(ValueError, match=r"ctx.logits has shape \(2, 4\)"):
        sel(torch.randn(2, 5, 3), SelectionContext(logits=torch.randn(2, 4)))


# ------------------------------------------------------------------------------ SoftSelect
def test_soft_select_weighted_sum_and_temperature():
    sel = SoftSelect(3, dim=2, temperature=0.5)
    with torch.no_grad():
        sel.logits.copy_(torch.tensor([0.0, 1.0, 2.0]))
    x = torch.randn(2, 4, 3)
    out, s = sel(x)
    w = torch.softmax(torch.tensor([0.0, 2.0, 4.0]), 0)
    torch.testing.assert_close(out, (x * w).sum(-1))
    assert s.indices.tolist() == [2]
    with pytest.raises(ValueError, match="k=2"):
        SoftSelect(3, k=2)


def test_soft_select_per_sample_logits_from_context():
    sel = SoftSelect(3)
    x = torch.randn(2, 3, 5)
    logits = torch.tensor([[10.0, 0, 0], [0, 0, 10.0]])
    out, s = sel(x, SelectionContext(logits=logits))
    torch.testing.assert_close(out, (x * torch.softmax(logits, -1)[:, :, None]).sum(1))
    assert s.indices.tolist() == [[0], [2]]
