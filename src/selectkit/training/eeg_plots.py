"""Pictures of an EEG selection: kept channels on the scalp, node transmission rates as a topomap."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from selectkit.datasets.eeg import EEGSet
from selectkit.io import atomic_write_bytes

__all__ = ["plot_channel_selection", "plot_channel_values", "plot_node_rates"]


def _require_positions(data: EEGSet) -> None:
    if data.positions is None:
        raise ValueError(
            f"{data.name or 'this set'} has no channel positions (channels {data.channel_names[:4]}...): scalp plots need "
            "names a standard 10-20 montage knows, or positions from an mne.Epochs / file montage"
        )


def _save(fig, path: str | Path) -> Path:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def plot_channel_selection(data: EEGSet, selected: list[int], path: str | Path, title: str = "") -> Path:
    """The montage seen from above with the ``selected`` channels highlighted and named (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mne

    _require_positions(data)
    bad = [c for c in selected if not 0 <= c < data.num_channels]
    if bad:
        raise ValueError(f"selected channels {bad} are out of range 0..{data.num_channels - 1}")
    info = data.info()
    fig, ax = plt.subplots(figsize=(4, 4))
    mne.viz.plot_sensors(info, kind="topomap", show_names=False, axes=ax, show=False, pointsize=20)
    # plot_sensors lays the channels out in the same 2-D projection a topomap uses.
    pos2d = mne.channels.layout._find_topomap_coords(info, picks=list(range(data.num_channels)))
    ax.scatter(pos2d[selected, 0], pos2d[selected, 1], s=160, c="crimson", zorder=5)
    for c in selected:
        ax.annotate(data.channel_names[c], pos2d[c], xytext=(0, 7), textcoords="offset points", ha="center", fontsize=8, zorder=6)
    ax.set_title(title or f"{len(selected)} of {data.num_channels} channels kept")
    return _save(fig, path)


def plot_channel_values(data: EEGSet, values, path: str | Path, title: str = "", label: str = "", axes=None) -> Path | None:
    """Topomap of one value per channel in ``[0, 1]`` (a selection frequency, a rate) (PNG).

    With ``axes`` it draws into that matplotlib axes and writes nothing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mne

    _require_positions(data)
    values = np.asarray(values, dtype=float)
    if values.shape != (data.num_channels,):
        raise ValueError(f"{values.shape[0] if values.ndim else 0} values for {data.num_channels} channels")
    fig, ax = (None, axes) if axes is not None else plt.subplots(figsize=(4.4, 4))
    im, _ = mne.viz.plot_topomap(values, data.info(), axes=ax, show=False, vlim=(0, 1), cmap="viridis", contours=0)
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label=label)
    ax.set_title(title, fontsize=10)
    return None if fig is None else _save(fig, path)


def plot_node_rates(data: EEGSet, nodes: list[list[int]], rates: list[float], path: str | Path, title: str = "") -> Path:
    """Topomap of each channel's transmission rate (its node's share of trials sent) (PNG)."""
    if len(rates) != len(nodes):
        raise ValueError(f"{len(rates)} rates for {len(nodes)} nodes")
    per_channel = np.zeros(data.num_channels)
    for node, rate in zip(nodes, rates):
        per_channel[node] = rate
    return plot_channel_values(data, per_channel, path, title or f"mean rate {np.mean(rates):.2f}, busiest node {max(rates):.2f}",
                               "transmission rate")
