"""Gather a Hydra multirun into one table when the sweep ends.

Each trial writes ``metrics.json`` into its own job folder; this Hydra callback reads them with
the trial's overrides and writes ``results.csv`` and ``results.md`` into the sweep folder,
sorted by the optimized metric, and prints the Markdown table.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

COLUMNS = ("val/acc_best", "test/acc", "test/f1_macro")


def collect(sweep_dir: Path, metric: str | None) -> list[dict[str, Any]]:
    rows = []
    for metrics_file in sorted(sweep_dir.glob("*/metrics.json")):
        job = metrics_file.parent
        overrides_file = job / ".hydra" / "overrides.yaml"
        overrides = OmegaConf.load(overrides_file) if overrides_file.is_file() else []
        metrics = json.loads(metrics_file.read_text())
        row: dict[str, Any] = {"job": job.name, "overrides": " ".join(map(str, overrides))}
        for name in dict.fromkeys([*(c for c in [metric] if c), *COLUMNS]):
            row[name] = metrics.get(name)
        rows.append(row)
    if metric:
        rows.sort(key=lambda r: (r.get(metric) is None, -(r.get(metric) or 0.0)))
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no finished trials)\n"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


class SweepResults(Callback):
    """``hydra.callbacks.sweep_results``: the sweep's table, written once it ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = collect(sweep_dir, config.get("optimized_metric"))
        if rows:
            with open(sweep_dir / "results.csv", "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        table = to_markdown(rows)
        (sweep_dir / "results.md").write_text(table)
        print(f"\nSweep results ({sweep_dir}):\n{table}", flush=True)
