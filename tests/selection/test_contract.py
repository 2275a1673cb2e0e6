"""Contract tests every registered selector gets for free (parametrized over the registry)."""

from __future__ import annotations

import inspect

import pytest
import torch

from selectkit.selection import Selection, create_selector, get_selector_class, list_selectors

SHAPE = (4, 6, 5, 7)  # (B, a, b, c); the item axis is one of a, b, c
ALL = list_selectors()
TRAINABLE = list_selectors(trainable=True)
STATIC = [n for n in ALL if not get_selector_class(n).input_dependent]


def budget(name: str, num_items: int) -> int:
    fixed = get_selector_class(name).fixed_k
    return fixed if fixed is not None else min(3, num_items)


def make(name: str, num_items: int, dim: int = 1, **kwargs):
    return create_selector(name, num_items=num_items, k=budget(name, num_items), dim=dim, **kwargs)


def randomized(sel):
    """The selector with random parameters, so choices are not decided by initial ties."""
    with torch.no_grad():
        for p in sel.parameters():
            p.copy_(torch.randn_like(p))
    return sel


def expected_shape(shape, dim, k, reduction):
    out = list(shape)
    pos = dim % len(shape)
    if reduction == "gather":
        out[pos] = k
    elif reduction == "weighted_sum":
        del out[pos]
    return tuple(out)


def test_registry_lists_the_five():
    assert ALL == ["attention_topk", "gumbel_gates", "gumbel_topk", "soft_select", "weight_scores"]
    assert set(TRAINABLE) == set(ALL) - {"attention_topk"}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dim", [1, 2, 3, -1])
@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("training", [False, True])
def test_shapes_and_budget(name, dim, batch, training):
    shape = (batch,) + SHAPE[1:]
    n = shape[dim]
    cls = get_selector_class(name)
    for reduction in cls.reductions:
        sel = make(name, n, dim, reduction=reduction).train(training)
        x = torch.randn(shape)
        out, selection = sel(x)
        k = budget(name, n)
        assert isinstance(selection, Selection)
        assert out.shape == expected_shape(shape, dim, k, reduction), (reduction, out.shape)
        assert selection.scores.shape[-1] == n
        assert selection.mask.shape == selection.scores.shape
        if selection.indices is not None:
            assert selection.indices.shape[-1] == k
            assert selection.indices.dtype == torch.long
        if not training:
            # Exactly k distinct items, consistent with the mask.
            flat = selection.indices.reshape(-1, k)
            assert all(len(set(row)) == k for row in flat.tolist())
            assert torch.all(selection.mask.sum(-1) == k)
            assert selection.indices is not None


@pytest.mark.parametrize("name", ALL)
def test_eval_is_deterministic(name):
    sel = make(name, 6).eval()
    x = torch.randn(*SHAPE)
    out1, s1 = sel(x)
    out2, s2 = sel(x)
    torch.testing.assert_close(out1, out2, rtol=0, atol=0)
    assert torch.equal(s1.indices, s2.indices)


@pytest.mark.parametrize("name", TRAINABLE)
def test_gradients_reach_the_scores(name):
    sel = make(name, 6).train()
    x = torch.randn(*SHAPE)
    out, _ = sel(x)
    loss = (out * torch.randn_like(out)).sum() + sel.regularization()
    loss.backward()
    grads = [p.grad for p in sel.parameters()]
    assert grads and all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.parametrize("name", STATIC)
def test_freeze_equals_eval_choice(name):
    sel = randomized(make(name, 6)).eval()
    frozen = sel.freeze()
    out, selection = sel(torch.randn(*SHAPE))
    assert torch.equal(selection.indices, frozen)
    assert frozen.shape == (budget(name, 6),)
    ranking = sel.ranking()
    assert sorted(ranking.tolist()) == list(range(6))
    assert sel.training is False  # freeze() leaves the mode as it found it


@pytest.mark.parametrize("name", STATIC)
def test_freeze_restores_training_mode(name):
    sel = make(name, 6).train()
    sel.freeze()
    assert sel.training


@pytest.mark.parametrize("name", [n for n in ALL if get_selector_class(n).input_dependent])
def test_freeze_rejects_input_dependent(name):
    with pytest.raises(ValueError, match="input-dependent"):
        make(name, 6).freeze()


@pytest.mark.parametrize("name", ALL)
def test_state_dict_round_trip(name):
    a = randomized(make(name, 6))
    a.anneal(0.7)
    b = make(name, 6)
    b.load_state_dict(a.state_dict())
    x = torch.randn(*SHAPE)
    a.eval(), b.eval()
    out_a, sa = a(x)
    out_b, sb = b(x)
    torch.testing.assert_close(out_a, out_b)
    assert torch.equal(sa.indices, sb.indices)


@pytest.mark.parametrize("name", ALL)
def test_regularization_is_a_finite_scalar(name):
    sel = make(name, 6).train()
    sel(torch.randn(*SHAPE))
    reg = sel.regularization()
    assert reg.ndim == 0 and torch.isfinite(reg)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", [n for n in ALL if get_selector_class(n).fixed_k is None])
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, r"k=0"),
        ({"k": -2}, r"k=-2"),
        ({"k": 7}, r"k=7 must be <= num_items=6"),
        ({"keep_ratio": 0.0}, r"keep_ratio=0.0"),
        ({"keep_ratio": 1.5}, r"keep_ratio=1.5"),
        ({"keep_ratio": float("nan")}, r"keep_ratio=nan"),
        ({"k": 2, "keep_ratio": 0.5}, r"k=2, keep_ratio=0.5"),
        ({"k": 2.5}, r"k=2.5"),
    ],
)
def test_bad_budget(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_selector(name, num_items=6, **kwargs)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("num_items", [0, -1, 2.0])
def test_bad_num_items(name, num_items):
    with pytest.raises(ValueError, match="num_items"):
        create_selector(name, num_items=num_items, k=1)


@pytest.mark.parametrize("name", ALL)
def test_axis_length_mismatch(name):
    sel = make(name, 6)
    with pytest.raises(ValueError, match=r"x.shape\[1\]=5 != num_items=6"):
        sel(torch.randn(4, 5, 3))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dim", [0, 5])
def test_bad_dim(name, dim):
    sel = create_selector(name, num_items=6, k=budget(name, 6), dim=1)
    sel.dim = dim  # e.g. set by a config after construction
    with pytest.raises(ValueError, match=f"dim={dim}"):
        sel(torch.randn(4, 6, 3))
    with pytest.raises(ValueError, match="dim=0"):
        create_selector(name, num_items=6, k=budget(name, 6), dim=0)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input(name, bad):
    x = torch.randn(4, 6, 3)
    x[1, 2, 0] = bad
    with pytest.raises(ValueError, match=r"x contains non-finite values"):
        make(name, 6)(x)


@pytest.mark.parametrize("name", TRAINABLE)
def test_non_finite_scores(name):
    sel = make(name, 6)
    with torch.no_grad():
        for p in sel.parameters():
            p.fill_(float("nan"))
    with pytest.raises(ValueError, match="scores contains non-finite"):
        sel(torch.randn(4, 6, 3))


@pytest.mark.parametrize("name", [n for n in ALL if "costs" in inspect.signature(get_selector_class(n)).parameters])
@pytest.mark.parametrize(
    "costs, match",
    [([1.0] * 5, r"costs has length 5, expected num_items=6"), ([1, 2, -3, 4, 5, 6], r"negative at items \[2\]"),
     ([1, 2, float("nan"), 4, 5, 6], "finite"), ([[1.0] * 6], "1-D")],
)
def test_bad_costs(name, costs, match):
    with pytest.raises(ValueError, match=match):
        create_selector(name, num_items=6, k=budget(name, 6), costs=costs)


def test_unknown_selector_name():
    with pytest.raises(ValueError, match=r"unknown selector name='nope'"):
        create_selector("nope", num_items=3, k=1)
