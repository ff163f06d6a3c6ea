"""Compose nlpclf's own configs for the benchmarks: the experiment of each model group, with
data, caches and outputs pointed where the benchmark run keeps them."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from benchmarks.common import Settings
from nlpclf.utils.cli import config_dir

# the experiment config of each model group: what `make bench MODEL=<group>` measures
EXPERIMENTS = {
    "resnet": "newsgroups_resnet",
    "rnn": "newsgroups_rnn",
    "transformer": "newsgroups_minilm",
}


def experiment_overrides(model: str) -> list[str]:
    return [f"experiment={EXPERIMENTS[model]}"]


def path_overrides(settings: Settings) -> list[str]:
    return [
        f"paths.data_dir={settings.data_dir}",
        f"paths.cache_dir={settings.cache_dir}",
        f"paths.log_dir={settings.work_dir / 'logs'}",
    ]


def compose_train(settings: Settings, *overrides: str, run_dir: Path | None = None) -> DictConfig:
    """The train config as ``python -m nlpclf.train`` would compose it, outside Hydra's app."""
    run_dir = run_dir or settings.work_dir / "run"
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=[*path_overrides(settings), *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir)
    return cfg
