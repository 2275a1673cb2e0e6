import numpy as np
import pytest

from selectkit.datasets.recording import LabelInterval, Recording, SensorStream
from selectkit.datasets.windows import interval_split, make_windows, resample_to_grid


def tone(freq, rate, seconds, t0=0.0, axes=1):
    t = t0 + np.arange(int(seconds * rate)) / rate
    v = np.sin(2 * np.pi * freq * t)[:, None].repeat(axes, 1).astype(np.float32)
    return t, v


def sensor(name, t, v, rate):
    return SensorStream(name, "wrist", "acc", tuple("xyz"[: v.shape[1]]), rate, t, v)


def test_resampling_is_anti_aliased():
    # 40 Hz sampled at 200 Hz would alias to 15 Hz at 25 Hz without a low-pass filter.
    t, v = tone(40.0, 200.0, 10.0)
    grid = 2.0 + np.arange(150) / 25.0
    out, valid = resample_to_grid(sensor("s", t, v, 200.0), grid, 25.0)
    assert valid.all()
    assert np.abs(out).max() < 0.05
    # A 3 Hz tone passes unchanged.
    t, v = tone(3.0, 200.0, 10.0)
    out, _ = resample_to_grid(sensor("s", t, v, 200.0), grid, 25.0)
    np.testing.assert_allclose(out[:, 0], np.sin(2 * np.pi * 3.0 * grid), atol=0.02)


def test_resampling_marks_gaps_invalid():
    t, v = tone(1.0, 50.0, 10.0)
    keep = (t < 4.0) | (t > 5.0)
    grid = np.arange(0, 9.9, 0.1)
    out, valid = resample_to_grid(sensor("s", t[keep], v[keep], 50.0), grid, 10.0, max_gap_s=0.25)
    assert not valid[(grid > 4.0) & (grid < 5.0)].any()
    assert valid[(grid < 3.9) | (grid > 5.1)].all()
    assert np.isnan(out[~valid]).all()


def two_interval_recording():
    t, v = tone(2.0, 100.0, 20.0, axes=3)
    rec = Recording("s0", "sess", {"a": sensor("a", t, v, 100.0)}, [LabelInterval(0.0, 10.0, "walk"), LabelInterval(10.0, 19.9, "sit")])
    return rec


def test_windows_labels_and_crossing():
    rec = two_interval_recording()
    dropped = make_windows([rec], rate=50.0, window_s=2.0, stride_s=1.0)
    kept = make_windows([rec], rate=50.0, window_s=2.0, stride_s=1.0, crossing="keep")
    assert dropped.x.shape[1:] == (1, 3, 100)
    assert not dropped.crosses.any()
    assert kept.crosses.sum() == 1 and len(kept) == len(dropped) + 1
    assert set(dropped.y.tolist()) == {0, 1} and dropped.classes == ["sit", "walk"]
    # Every kept window lies inside its interval.
    for start, g in zip(dropped.start, dropped.group):
        _, _, _, lo, hi = dropped.intervals[g]
        assert lo - 1e-9 <= start and start + 2.0 <= hi + 1e-9
    centre = make_windows([rec], rate=50.0, window_s=2.0, stride_s=0.5, crossing="keep", label="centre")
    majority = make_windows([rec], rate=50.0, window_s=2.0, stride_s=0.5, crossing="keep")
    assert len(centre) == len(majority)


def test_window_errors():
    rec = two_interval_recording()
    with pytest.raises(ValueError, match="window_s=30 is longer than the longest labelled interval"):
        make_windows([rec], rate=50.0, window_s=30, stride_s=1.0)
    with pytest.raises(ValueError, match=r"lacks sensors \['b'\]"):
        make_windows([rec], rate=50.0, window_s=2, stride_s=1.0, sensors=["b"])
    with pytest.raises(ValueError, match="not a whole number"):
        make_windows([rec], rate=50.0, window_s=2.01, stride_s=1.0)
    with pytest.raises(ValueError, match="label='mode'"):
        make_windows([rec], rate=50.0, window_s=2, stride_s=1.0, label="mode")


def multi_interval_recording(per_class=(3, 3, 1)):
    labels, t0 = [], 0.0
    for c, n in enumerate(per_class):
        for _ in range(n):
            labels.append(LabelInterval(t0, t0 + 12.0, f"c{c}"))
            t0 += 15.0
    t, v = tone(1.0, 50.0, t0 + 1, axes=3)
    return Recording("s0", "sess", {"a": sensor("a", t, v, 50.0)}, labels)


def test_interval_split_keeps_intervals_whole():
    ws = make_windows([multi_interval_recording()], rate=25.0, window_s=2.0, stride_s=1.0)
    for fold in range(3):
        sp = interval_split(ws, fold=fold, n_folds=3)
        assert not set(sp.train) & set(sp.test) and not set(sp.val) & set(sp.test) and not set(sp.train) & set(sp.val)
        single = ws.classes.index("c2")
        for c in range(len(ws.classes)):
            if c == single:
                continue
            test_groups = set(ws.group[sp.test][ws.y[sp.test] == c])
            assert test_groups and not test_groups & set(ws.group[sp.train]) and not test_groups & set(ws.group[sp.val])
        assert any("'c2' has 1 interval(s)" in n for n in sp.notes)
        # No two windows of different splits share samples within an interval.
        for a, b in ((sp.train, sp.val), (sp.train, sp.test), (sp.val, sp.test)):
            for g in set(ws.group[a]) & set(ws.group[b]):
                sa, sb = ws.start[a][ws.group[a] == g], ws.start[b][ws.group[b] == g]
                assert np.abs(sa[:, None] - sb[None, :]).min() >= ws.window_s - 1e-9


def test_split_by_subject_when_several():
    recs = []
    for s in range(3):
        rec = multi_interval_recording((1, 1))
        rec.subject = f"subj{s}"
        recs.append(rec)
    ws = make_windows(recs, rate=25.0, window_s=2.0, stride_s=1.0)
    sp = interval_split(ws, fold=1, n_folds=3)
    assert len(set(ws.subject[sp.test])) == 1
    assert not set(ws.subject[sp.test]) & set(ws.subject[sp.train])
    with pytest.raises(ValueError, match="fold=3"):
        interval_split(ws, fold=3, n_folds=3)


def test_interval_validation_holds_out_whole_training_intervals():
    ws = make_windows([multi_interval_recording((4, 4, 1))], rate=25.0, window_s=2.0, stride_s=1.0)
    sp = interval_split(ws, fold=0, n_folds=2, val_mode="interval")
    for c in (0, 1):
        val_groups = set(ws.group[sp.val][ws.y[sp.val] == c])
        assert len(val_groups) == 1
        assert not val_groups & set(ws.group[sp.train]) and not val_groups & set(ws.group[sp.test])
    assert any("'c2': too few training intervals" in n for n in sp.notes)
    with pytest.raises(ValueError, match="val_mode='random'"):
        interval_split(ws, val_mode="random")
