"""Figures for reports and dashboards: the confusion matrix and a per-class bar chart.

Built on ``matplotlib.figure.Figure`` directly (never pyplot), so they work headless, in worker
threads and in notebooks alike, and nothing is left open in a global figure registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from nlpclf.utils.files import atomic_path


def confusion_matrix_figure(
    confusion: Sequence[Sequence[int]], label_names: Sequence[str], title: str = "Confusion matrix"
) -> Figure:
    """Colours show each true class's row normalized to 1; the cells print the raw counts."""
    counts = np.asarray(confusion, dtype=np.int64)
    n = len(label_names)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=float), where=rows > 0)
    side = min(4.0 + 0.45 * n, 18.0)
    figure = Figure(figsize=(side + 1.5, side))
    ax = figure.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set_xticks(range(n), labels=label_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels=label_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 30:
        for t in range(n):
            for p in range(n):
                if counts[t, p]:
                    color = "white" if share[t, p] > 0.5 else "black"
                    ax.text(p, t, counts[t, p], ha="center", va="center", fontsize=7, color=color)
    figure.tight_layout()
    return figure


def per_class_bar_figure(
    values: Sequence[float], label_names: Sequence[str], title: str = "F1 per class"
) -> Figure:
    """Horizontal bars, one per class, on a fixed 0-1 axis so epochs compare at a glance."""
    n = len(label_names)
    figure = Figure(figsize=(7.0, 1.0 + 0.3 * n))
    ax = figure.add_subplot()
    positions = np.arange(n)
    ax.barh(positions, values, color="tab:blue")
    ax.set_yticks(positions, labels=label_names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.0)
    ax.set_title(title)
    for y, value in zip(positions, values, strict=True):
        ax.text(min(value + 0.01, 0.9), y, f"{value:.2f}", va="center", fontsize=7)
    figure.tight_layout()
    return figure


def save_figure(figure: Figure, path: str | Path, dpi: int = 120) -> Path:
    with atomic_path(path) as partial:
        figure.savefig(partial, format="png", dpi=dpi)
    return Path(path)
