import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_threads():
    # Fixed seeds and a thread count that matches CI's 2 cores, so timings and samples repeat.
    torch.manual_seed(0)
    torch.set_num_threads(2)
    yield
