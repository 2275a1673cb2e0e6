import pytest
import torch

from selectkit.datasets.synthetic import informative_items_bayes_accuracy, informative_items_task


def test_task_is_seeded_and_shaped():
    x, y = informative_items_task(64, num_items=7, informative=(1, 4, 6), num_features=5, seed=3)
    x2, y2 = informative_items_task(64, num_items=7, informative=(1, 4, 6), num_features=5, seed=3)
    assert x.shape == (64, 7, 5) and y.shape == (64,)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert set(y.tolist()) <= set(range(8))


def test_only_informative_items_carry_the_label():
    x, y = informative_items_task(4000, informative=(2, 5), seed=0)
    bit0 = (y % 2).float()
    # The class-conditional mean differs on item 2 and not on a noise item.
    diff_inf = (x[bit0 == 1, 2].mean(0) - x[bit0 == 0, 2].mean(0)).norm()
    diff_noise = (x[bit0 == 1, 3].mean(0) - x[bit0 == 0, 3].mean(0)).norm()
    assert diff_inf > 1.5 and diff_noise < 0.2


def test_bayes_accuracy():
    assert informative_items_bayes_accuracy(1) == pytest.approx(0.8413, abs=1e-4)
    assert informative_items_bayes_accuracy(2) == pytest.approx(0.8413**2, abs=1e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"informative": (2, 2)}, "distinct"), ({"informative": (10,)}, r"\[0, num_items=10\)"), ({"informative": ()}, "distinct")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        informative_items_task(10, **kwargs)
    with pytest.raises(ValueError, match="num_samples=0"):
        informative_items_task(0)
