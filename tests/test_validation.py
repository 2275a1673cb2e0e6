import pytest
import torch

from selectkit.validation import check_axis_length, check_budget, check_costs, resolve_k


@pytest.mark.parametrize("ratio, n, k", [(0.1, 10, 1), (0.3, 10, 3), (0.25, 10, 3), (1.0, 7, 7), (0.01, 5, 1)])
def test_resolve_k_rounds_up(ratio, n, k):
    assert resolve_k(None, ratio, n) == k


def test_resolve_k_checks_against_the_input():
    with pytest.raises(ValueError, match="k=5 must be <= num_items=4"):
        resolve_k(5, None, 4)


def test_budget_may_be_optional():
    check_budget(None, None, 5, required=False)
    with pytest.raises(ValueError, match="a budget is required"):
        check_budget(None, None, 5)


def test_costs_are_float_copies():
    src = [1, 2, 3]
    c = check_costs(src, 3)
    assert c.dtype == torch.float32 and c.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="costs must be a sequence of numbers"):
        check_costs("abc", 3)


def test_axis_checks_name_the_shape():
    with pytest.raises(ValueError, match=r"batch axis and an item axis, got shape \(3,\)"):
        check_axis_length(torch.zeros(3), 1, 3)
    assert check_axis_length(torch.zeros(2, 3, 4), -1, 4) == 2
