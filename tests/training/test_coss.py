import math

import numpy as np
import pytest
import torch

from selectkit.training.models import CoSSNet, decimate


def test_decimate_passes_dc_and_low_tones_and_stops_high_ones():
    t = torch.arange(512) / 100.0
    assert torch.allclose(decimate(torch.ones(2, 512), 4), torch.ones(2, 128), atol=1e-5)
    low = torch.sin(2 * math.pi * 2.0 * t)
    out = decimate(low, 4)
    torch.testing.assert_close(out[20:-20], low[::4][20:-20], atol=0.02, rtol=0)
    high = torch.sin(2 * math.pi * 20.0 * t)  # above the 12.5 Hz Nyquist of 25 Hz
    assert decimate(high, 4)[20:-20].abs().max() < 0.05
    assert torch.equal(decimate(low, 1), low)
    with pytest.raises(ValueError, match="not divisible by the decimation factor 3"):
        decimate(low, 3)


def test_coss_shapes_and_errors():
    net = CoSSNet(4, 3, 64, 100.0, 5, rates=[100, 50, 25])
    assert net(torch.randn(2, 4, 3, 64)).shape == (2, 5)
    assert net.features(torch.randn(2, 4, 3, 64)).shape == (2, 4, 3, 32)
    with pytest.raises(ValueError, match=r"input has shape \(2, 3, 3, 64\)"):
        net(torch.randn(2, 3, 3, 64))
    with pytest.raises(ValueError, match="rate 30.0 Hz is not input_rate=100"):
        CoSSNet(4, 3, 60, 100.0, 5, rates=[30])
    with pytest.raises(ValueError, match="window_length=60 samples is not divisible by 8"):
        CoSSNet(4, 3, 60, 100.0, 5, rates=[12.5])
    with pytest.raises(ValueError, match="score_mode='both'"):
        CoSSNet(4, 3, 64, 100.0, 5, score_mode="both")


@pytest.mark.parametrize("score_mode, pooling", [("separate", "mean"), ("pair", "mean"), ("separate", "meanmax")])
def test_pruned_network_is_the_full_one_restricted(score_mode, pooling):
    torch.manual_seed(0)
    full = CoSSNet(4, 3, 64, 100.0, 5, rates=[100, 25], score_mode=score_mode, pooling=pooling).eval()
    for sel in (full.sensor_scores, full.rate_scores, full.pair_scores):
        if sel is not None:
            with torch.no_grad():
                sel.theta.copy_(torch.randn_like(sel.theta))
    x = torch.randn(3, 4, 3, 64)
    kept, ri = [3, 1], 1
    pruned = full.pruned(kept, ri).eval()
    assert pruned.input_shape() == (2, 3, 16)
    # Zero the dropped pairs' features in the full network: then both compute the same logits.
    feats = full.features(x)
    mask = torch.zeros(4, 2, 1)
    mask[kept, ri] = 1
    want = full.fusion(feats * mask)
    got = pruned(decimate(x[:, kept], 4))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert sum(p.numel() for p in pruned.parameters()) < sum(p.numel() for p in full.parameters())
    with pytest.raises(ValueError, match="sensors=\\[3, 3\\]"):
        full.pruned([3, 3], 0)
    with pytest.raises(ValueError, match="rate_index=2"):
        full.pruned([0], 2)


def test_rankings_cover_all_items():
    net = CoSSNet(5, 3, 64, 100.0, 2, rates=[100, 50, 25, 12.5])
    assert sorted(net.sensor_ranking()) == list(range(5))
    assert sorted(net.rate_ranking()) == list(range(4))
    pair = CoSSNet(5, 3, 64, 100.0, 2, rates=[100, 50], score_mode="pair")
    w, imp = pair.item_weights()
    assert w.shape == imp.shape == (5, 2)
    assert np.isclose(float(w.sum()), 10.0)  # softmax scores: mean weight 1
