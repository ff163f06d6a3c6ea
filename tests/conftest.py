"""Shared fixtures: generated corpora, a cache folder per test, composed configs, a trained run."""

from __future__ import annotations

import os
import sys

# Tests never touch the network: the Hub libraries read these once, at import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from dataclasses import dataclass
from pathlib import Path

import datasets
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

sys.path.insert(0, str(Path(__file__).parent))  # the corpora helper module

from corpora import corpus, with_label_noise, write_archive
from nlpclf.utils.cli import config_dir

datasets.disable_progress_bars()


@pytest.fixture(scope="session")
def small_corpus() -> dict[str, list[tuple[str, str]]]:
    return corpus()


@pytest.fixture
def archive_dir(tmp_path: Path, small_corpus) -> Path:
    write_archive(tmp_path / "data", small_corpus)
    return tmp_path / "data"


# Tiny model and data settings: end-to-end runs take seconds on two cores.
TINY = [
    "model.encoder.embed_dim=32",
    "model.encoder.channels=32",
    "model.encoder.num_blocks=2",
    "data.max_length=64",
    "data.batch_size=16",
    "data.vocab_size=2000",
    "data.min_frequency=1",
    "++callbacks.model_summary=null",
    "++callbacks.progress_bar=null",
    "trainer.log_every_n_steps=1",
    "print_config=false",
]


@pytest.fixture
def make_cfg(tmp_path: Path):
    """Compose the real train config, with outputs and caches inside ``tmp_path``."""

    def _make(*overrides: str, data_dir: Path | None = None) -> DictConfig:
        paths = [
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.log_dir={tmp_path / 'logs'}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"paths.data_dir={data_dir or tmp_path / 'data'}",
        ]
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            cfg = compose("train", overrides=[*TINY, *paths, *overrides])
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / "run")
        return cfg

    return _make


def compose_config(name: str, *overrides: str) -> DictConfig:
    """Compose one of the entry configs (train, eval, predict, export) outside Hydra's app."""
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose(name, overrides=list(overrides))


@dataclass
class TrainedRun:
    """One tiny training run on a generated corpus, shared by the whole session."""

    root: Path
    run: Path
    metrics: dict[str, float]

    @property
    def best(self) -> Path:
        return next((self.run / "checkpoints").glob("epoch_*.ckpt"))

    def data_overrides(self) -> list[str]:
        """Point a config's paths at this run's corpus and caches."""
        return [
            f"paths.data_dir={self.root / 'data'}",
            f"paths.cache_dir={self.root / 'cache'}",
            f"paths.log_dir={self.root / 'logs'}",
        ]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> TrainedRun:
    """Train once (seconds): four separable classes with a little label noise, so validation
    has confident mistakes for the dashboards; every dashboard on, the projector included."""
    from nlpclf.train import train

    root = tmp_path_factory.mktemp("trained")
    data = with_label_noise(corpus(train_per_class=40, test_per_class=15), per_class=2)
    write_archive(root / "data", data)
    run = TrainedRun(root, root / "run", {})
    cfg = compose_config(
        "train",
        *TINY,
        *run.data_overrides(),
        "trainer.max_epochs=4",
        "optimizer.lr=3e-3",
        "callbacks.projector.enabled=true",
        f"paths.output_dir={run.run}",
    )
    with open_dict(cfg):
        cfg.paths.output_dir = str(run.run)
    run.metrics = train(cfg)
    return run


def rewrite_checkpoint(source: Path, target: Path, edit) -> Path:
    """A copy of a checkpoint after ``edit(checkpoint_dict)``: wrong versions, other labels..."""
    import torch

    checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    edit(checkpoint)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, target)
    return target


def run_module(module: str, *args: str, stdin: bytes | None = None):
    """``python -m <module> args`` in a subprocess, as a user would run it."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", module, *args],
        input=stdin,
        capture_output=True,
        timeout=300,
    )
