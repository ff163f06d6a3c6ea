"""Console and file reports: the config tree and the final metrics table (rank zero only)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import rich
import rich.syntax
import rich.table
import rich.tree
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

FIRST = ("data", "model", "optimizer", "scheduler", "trainer", "callbacks", "logger", "paths")


@rank_zero_only
def print_config_tree(
    cfg: DictConfig, save_dir: Path | None = None, order: Sequence[str] = FIRST
) -> None:
    """Print the composed config as a tree of groups, and save the same text."""
    tree = rich.tree.Tree("CONFIG", style="dim", guide_style="dim")
    keys = [k for k in order if k in cfg] + [k for k in cfg if k not in order]
    for key in keys:
        node = cfg[key]
        text = OmegaConf.to_yaml(node, resolve=True) if isinstance(node, DictConfig) else str(node)
        tree.add(key, style="bold").add(rich.syntax.Syntax(text, "yaml"))
    rich.print(tree)
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        with open(save_dir / "config_tree.log", "w") as fh:
            rich.print(tree, file=fh)


@rank_zero_only
def report_metrics(metrics: Mapping[str, float], save_dir: Path | None = None) -> None:
    """Print the metrics as a table and write them to ``metrics.json``."""
    table = rich.table.Table(title="Final metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in sorted(metrics):
        table.add_row(name, f"{metrics[name]:.4f}")
    rich.print(table)
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        (save_dir / "metrics.json").write_text(json.dumps(dict(metrics), indent=2) + "\n")
