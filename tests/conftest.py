"""Shared fixtures: generated corpora, a cache folder per test, and composed train configs."""

from __future__ import annotations

import os
import sys

# Tests never touch the network: the Hub libraries read these once, at import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import datasets
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

sys.path.insert(0, str(Path(__file__).parent))  # the corpora helper module

from corpora import corpus, write_archive
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
