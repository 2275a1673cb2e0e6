"""From recordings to model input: resampling onto a common timeline, windows, leakage-free splits.

Shapes: a :class:`WindowSet` holds ``x`` of shape ``(W, S, A, T)`` -- windows, sensors, axes,
samples at the common ``rate`` -- and one label per window.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import signal

from selectkit.datasets.recording import Recording, SensorStream

__all__ = ["SensorInfo", "WindowSet", "resample_to_grid", "make_windows", "Split", "interval_split"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SensorInfo:
    """What a model and the cost model need to know about a sensor (no samples)."""

    name: str
    position: str
    modality: str
    axes: tuple[str, ...]
    native_rate: float
    bytes_per_sample: int = 2

    @classmethod
    def of(cls, s: SensorStream) -> SensorInfo:
        return cls(s.name, s.position, s.modality, tuple(s.axes), float(s.rate), s.bytes_per_sample)

    def cost(self, rate: float) -> float:
        """Bytes/s when streamed at ``rate`` Hz: ``rate * axes * bytes_per_sample``."""
        return float(rate) * len(self.axes) * self.bytes_per_sample


@dataclass
class WindowSet:
    """Fixed-length windows of several sensors on one timeline.

    Attributes:
        x: ``(W, S, A, T)`` float32.
        y: ``(W,)`` int64 class indices into ``classes``.
        group: ``(W,)`` int64 id of the labelled interval the window's centre lies in; windows
            of one group share context (orientation, placement), so splits keep groups whole.
        subject: ``(W,)`` subject id per window.
        start: ``(W,)`` window start time in seconds.
        crosses: ``(W,)`` bool, the window spans a label change (only kept with ``crossing="keep"``).
        intervals: per group id, ``(subject, session, label, start, end)``.
    """

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    sensors: list[SensorInfo]
    rate: float
    window_s: float
    group: np.ndarray
    subject: np.ndarray
    start: np.ndarray
    crosses: np.ndarray
    intervals: list[tuple[str, str, str, float, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_sensors(self) -> int:
        return self.x.shape[1]

    @property
    def num_axes(self) -> int:
        return self.x.shape[2]

    @property
    def window_length(self) -> int:
        return self.x.shape[3]

    @property
    def sensor_names(self) -> list[str]:
        return [s.name for s in self.sensors]

    def subset(self, idx: np.ndarray) -> WindowSet:
        return replace(
            self, x=self.x[idx], y=self.y[idx], group=self.group[idx], subject=self.subject[idx],
            start=self.start[idx], crosses=self.crosses[idx],
        )

    def select_sensors(self, names: Sequence[str]) -> WindowSet:
        unknown = [n for n in names if n not in self.sensor_names]
        if unknown:
            raise ValueError(f"unknown sensor names {unknown}; available: {self.sensor_names}")
        idx = [self.sensor_names.index(n) for n in names]
        return replace(self, x=self.x[:, idx], sensors=[self.sensors[i] for i in idx])

    def class_counts(self) -> dict[str, int]:
        c = Counter(self.y.tolist())
        return {name: c.get(i, 0) for i, name in enumerate(self.classes)}


def _segments(t: np.ndarray, max_gap: float) -> list[slice]:
    """Runs of samples whose spacing stays within ``max_gap`` seconds."""
    if len(t) == 0:
        return []
    cuts = np.flatnonzero(np.diff(t) > max_gap) + 1
    bounds = np.concatenate([[0], cuts, [len(t)]])
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b - a >= 2]


def resample_to_grid(
    stream: SensorStream, grid: np.ndarray, rate: float, *, max_gap_s: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``stream`` at the times ``grid`` (uniform at ``rate`` Hz), anti-aliased.

    When the native rate is above ``rate`` the samples are first low-pass filtered (8th-order
    Butterworth, zero phase, cut-off at 0.45 x ``rate``) so that nothing above the new Nyquist
    frequency folds back; then they are interpolated linearly onto the grid. Filtering and
    interpolation never bridge a gap longer than ``max_gap_s``: grid points in a gap are invalid.

    Returns:
        ``(values, valid)``: ``(len(grid), A)`` float32 (NaN where invalid) and ``(len(grid),)`` bool.
    """
    out = np.full((len(grid), stream.num_axes), np.nan, dtype=np.float32)
    if len(grid) == 0:
        return out, np.zeros(0, dtype=bool)
    margin = 2.0  # seconds of context for the filter on both sides
    lo, hi = np.searchsorted(stream.timestamps, [grid[0] - margin, grid[-1] + margin])
    t = stream.timestamps[lo:hi]
    v = stream.values[lo:hi].astype(np.float64)
    downsample = stream.rate > rate * 1.01
    sos = signal.butter(8, 0.45 * rate, btype="low", fs=stream.rate, output="sos") if downsample else None
    for seg in _segments(t, max_gap_s):
        ts, vs = t[seg], v[seg]
        if sos is not None:
            padlen = min(3 * (2 * len(sos) + 1), len(ts) - 1)
            vs = signal.sosfiltfilt(sos, vs, axis=0, padlen=padlen)
        inside = (grid >= ts[0]) & (grid <= ts[-1])
        if inside.any():
            for a in range(vs.shape[1]):
                out[inside, a] = np.interp(grid[inside], ts, vs[:, a])
    valid = np.isfinite(out).all(axis=1)
    return out, valid


def make_windows(
    recordings: Sequence[Recording],
    *,
    rate: float,
    window_s: float,
    stride_s: float,
    sensors: Sequence[str] | None = None,
    label: str = "majority",
    crossing: str = "drop",
    max_gap_s: float = 0.25,
    classes: Sequence[str] | None = None,
) -> WindowSet:
    """Cut labelled windows from recordings on a common timeline at ``rate`` Hz.

    Adjacent label intervals form one contiguous segment; windows slide over each segment with
    ``stride_s``. A window's label is the majority label of its samples (``label="majority"``)
    or the label at its centre (``"centre"``); windows spanning a label change are dropped
    (``crossing="drop"``) or kept and flagged in ``crosses`` (``"keep"``). Windows with samples in
    a sensor gap are dropped. Every drop is counted in the log.

    Args:
        sensors: sensor names to use (default: all sensors of the first recording, sorted by name
            order of the recording); every recording must have them.
        classes: class names in index order (default: sorted labels of all recordings); labels
            not listed are skipped with a count.
    """
    if rate <= 0 or window_s <= 0 or stride_s <= 0:
        raise ValueError(f"rate={rate}, window_s={window_s}, stride_s={stride_s} must all be > 0")
    if label not in ("majority", "centre"):
        raise ValueError(f"label={label!r} must be 'majority' or 'centre'")
    if crossing not in ("drop", "keep"):
        raise ValueError(f"crossing={crossing!r} must be 'drop' or 'keep'")
    if not recordings:
        raise ValueError("recordings is empty")
    names = list(sensors) if sensors is not None else list(recordings[0].sensors)
    for rec in recordings:
        missing = [n for n in names if n not in rec.sensors]
        if missing:
            raise ValueError(f"recording {rec.session!r} lacks sensors {missing}; it has {list(rec.sensors)}")
    axes = {len(recordings[0].sensors[n].axes) for n in names}
    if len(axes) != 1:
        raise ValueError(f"sensors {names} have different axis counts {sorted(axes)}; choose sensors with equal axes")
    class_list = list(classes) if classes is not None else sorted({iv.label for r in recordings for iv in r.labels})
    class_index = {c: i for i, c in enumerate(class_list)}
    length = int(round(window_s * rate))
    stride = max(1, int(round(stride_s * rate)))
    if abs(length - window_s * rate) > 1e-6:
        raise ValueError(f"window_s={window_s} x rate={rate} = {window_s * rate} samples is not a whole number")
    longest = max((iv.end - iv.start) for r in recordings for iv in r.labels) if any(r.labels for r in recordings) else 0
    if window_s > longest:
        raise ValueError(f"window_s={window_s} is longer than the longest labelled interval ({longest:.1f} s)")

    xs, ys, groups, subjects, starts, crosses = [], [], [], [], [], []
    intervals: list[tuple[str, str, str, float, float]] = []
    dropped = Counter()
    for rec in recordings:
        ivs = [iv for iv in rec.labels if iv.label in class_index]
        dropped["interval_unknown_class"] += len(rec.labels) - len(ivs)
        # Contiguous segments of adjacent intervals (gap below one sample).
        segs: list[list[int]] = []
        for i, iv in enumerate(ivs):
            if segs and iv.start - ivs[segs[-1][-1]].end < 1.0 / rate:
                segs[-1].append(i)
            else:
                segs.append([i])
        for seg in segs:
            t0, t1 = ivs[seg[0]].start, ivs[seg[-1]].end
            n = int(np.floor((t1 - t0) * rate))
            if n < length:
                dropped["segment_shorter_than_window"] += 1
                continue
            grid = t0 + np.arange(n) / rate
            lab = np.full(n, -1, dtype=np.int64)
            gid = np.full(n, -1, dtype=np.int64)
            for i in seg:
                iv = ivs[i]
                m = (grid >= iv.start) & (grid < iv.end)
                lab[m] = class_index[iv.label]
                gid[m] = len(intervals)
                intervals.append((rec.subject, rec.session, iv.label, iv.start, iv.end))
            data = np.empty((len(names), n, next(iter(axes))), dtype=np.float32)
            valid = np.ones(n, dtype=bool)
            for s, name in enumerate(names):
                data[s], ok = resample_to_grid(rec.sensors[name], grid, rate, max_gap_s=max_gap_s)
                valid &= ok
            for a in range(0, n - length + 1, stride):
                b = a + length
                wl = lab[a:b]
                if not valid[a:b].all():
                    dropped["sensor_gap"] += 1
                    continue
                if (wl < 0).any():
                    dropped["unlabelled_samples"] += 1
                    continue
                cross = bool((wl != wl[0]).any())
                if cross and crossing == "drop":
                    dropped["label_change"] += 1
                    continue
                y = np.bincount(wl).argmax() if label == "majority" else wl[length // 2]
                xs.append(data[:, a:b].transpose(0, 2, 1))
                ys.append(y)
                groups.append(gid[a + length // 2])
                subjects.append(rec.subject)
                starts.append(grid[a])
                crosses.append(cross)
    if dropped:
        log.info("make_windows: kept %d windows; dropped %s", len(ys), dict(dropped))
    if not ys:
        raise ValueError(f"no windows of {window_s} s could be cut (dropped: {dict(dropped)})")
    info = [SensorInfo.of(recordings[0].sensors[n]) for n in names]
    return WindowSet(
        x=np.stack(xs).astype(np.float32), y=np.asarray(ys, dtype=np.int64), classes=class_list, sensors=info,
        rate=float(rate), window_s=float(window_s), group=np.asarray(groups, dtype=np.int64),
        subject=np.asarray(subjects), start=np.asarray(starts), crosses=np.asarray(crosses, dtype=bool),
        intervals=intervals,
    )


@dataclass
class Split:
    """Window indices of one fold, and what the split had to do by exception."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    notes: list[str] = field(default_factory=list)


def _time_cut(idx: np.ndarray, start: np.ndarray, frac_lo: float, frac_hi: float, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Windows of one interval in ``[lo, hi)`` of its time span, and the rest minus a guard gap."""
    t = start[idx]
    t0, t1 = t.min(), t.max()
    lo, hi = t0 + frac_lo * (t1 - t0), t0 + frac_hi * (t1 - t0)
    inside = (t >= lo) & (t < hi) if frac_hi < 1 else (t >= lo)
    # Windows overlapping the cut by less than a window length would share samples: drop them.
    rest = ~inside & ((t < lo - gap) | (t >= hi + gap))
    return idx[inside], idx[rest]


def interval_split(
    ws: WindowSet, *, fold: int = 0, n_folds: int = 3, val_fraction: float = 0.2, seed: int = 0, val_mode: str = "time"
) -> Split:
    """Leakage-free train / validation / test windows.

    * Test: with several subjects, whole subjects (assigned round-robin to ``n_folds`` folds);
      with one subject, whole labelled intervals -- each class's intervals are shuffled (seeded)
      and dealt round-robin to the folds. A class with fewer intervals than folds cannot give
      every fold a whole interval: its interval(s) are cut in time into ``n_folds`` pieces
      instead (the documented exception, listed in ``notes``).
    * Validation: carved from the training side, never from test. ``val_mode="time"``: the last
      ``val_fraction`` of each training interval in time, with a one-window guard gap so no
      validation window shares samples with a training window. ``val_mode="interval"``: one whole
      training-side interval per class (one whole subject with several subjects), so choices made
      on validation see the same shift between intervals that test does; a class (or a subject
      set) too small to give one up falls back to the time cut, said in ``notes``.
    """
    if val_mode not in ("time", "interval"):
        raise ValueError(f"val_mode={val_mode!r} must be 'time' or 'interval'")
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold={fold} must be in [0, n_folds={n_folds})")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction} must be in (0, 1)")
    rng = np.random.default_rng(seed)
    all_idx = np.arange(len(ws))
    test_mask = np.zeros(len(ws), dtype=bool)
    notes: list[str] = []
    subjects = sorted(set(ws.subject.tolist()))
    if len(subjects) >= n_folds:
        order = [subjects[i] for i in rng.permutation(len(subjects))]
        test_subjects = set(order[fold::n_folds])
        test_mask = np.isin(ws.subject, list(test_subjects))
        notes.append(f"test subjects: {sorted(test_subjects)}")
    else:
        for c in range(len(ws.classes)):
            gids = sorted(set(ws.group[ws.y == c].tolist()))
            if not gids:
                continue
            if len(gids) >= n_folds:
                gids = [gids[i] for i in rng.permutation(len(gids))]
                test_mask |= np.isin(ws.group, gids[fold::n_folds]) & (ws.y == c)
            else:
                for g in gids:
                    idx = all_idx[ws.group == g]
                    piece, _ = _time_cut(idx, ws.start, fold / n_folds, (fold + 1) / n_folds, 0.0)
                    test_mask[piece] = True
                notes.append(
                    f"class {ws.classes[c]!r} has {len(gids)} interval(s) < n_folds={n_folds}: its interval(s) are split in time for the test fold"
                )
    # Whole validation intervals / subjects (val_mode="interval"), chosen from the training side.
    val_whole = np.zeros(len(ws), dtype=bool)
    if val_mode == "interval":
        train_side = ~test_mask
        if len(subjects) >= n_folds:
            cand = sorted(set(ws.subject[train_side].tolist()))
            if len(cand) >= 2:
                val_whole = train_side & (ws.subject == cand[rng.integers(len(cand))])
            else:
                notes.append("one training subject: validation falls back to the time cut")
        else:
            for c in range(len(ws.classes)):
                gids = sorted(set(ws.group[train_side & (ws.y == c)].tolist()))
                whole = [g for g in gids if not test_mask[ws.group == g].any()]
                if len(whole) >= 2:
                    val_whole |= (ws.group == whole[rng.integers(len(whole))]) & train_side
                elif gids:
                    notes.append(f"class {ws.classes[c]!r}: too few training intervals for a whole validation interval; time cut")
    # Guard: training windows of a time-split interval must not overlap its test piece.
    train_idx, val_idx = [all_idx[val_whole][:0]], [all_idx[val_whole]]
    for g in sorted(set(ws.group.tolist())):
        idx = all_idx[(ws.group == g) & ~test_mask & ~val_whole]
        if len(idx) == 0:
            continue
        class_has_whole_val = val_whole[ws.y == ws.y[idx[0]]].any() if val_mode == "interval" else False
        tidx = all_idx[(ws.group == g) & test_mask]
        if len(tidx):
            lo, hi = ws.start[tidx].min(), ws.start[tidx].max()
            idx = idx[(ws.start[idx] <= lo - ws.window_s) | (ws.start[idx] >= hi + ws.window_s)]
        if len(idx) < 2 or class_has_whole_val:
            train_idx.append(idx)
            continue
        v, rest = _time_cut(idx, ws.start, 1 - val_fraction, 1.0, ws.window_s)
        val_idx.append(v)
        train_idx.append(rest)
    train = np.sort(np.concatenate(train_idx)) if train_idx else np.zeros(0, dtype=np.int64)
    val = np.sort(np.concatenate(val_idx)) if val_idx else np.zeros(0, dtype=np.int64)
    test = np.sort(all_idx[test_mask])
    for name, part in (("train", train), ("validation", val), ("test", test)):
        if len(part) == 0:
            raise ValueError(f"the {name} split is empty (fold={fold}, n_folds={n_folds}); use fewer folds or more data")
    return Split(train, val, test, notes)
