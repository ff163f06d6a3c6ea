"""Shared fixtures: generated corpora, a cache folder per test, composed configs, a trained run."""

from __future__ import annotations

import os
import subprocess
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
TINY_MODEL = {
    "resnet": [
        "model.encoder.embed_dim=32",
        "model.encoder.channels=32",
        "model.encoder.num_blocks=2",
    ],
    "rnn": ["model.encoder.embed_dim=32", "model.encoder.hidden_size=16"],
    "transformer": [],
}
TINY = [
    *TINY_MODEL["resnet"],
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

    def _make(
        *overrides: str, data_dir: Path | None = None, model: str | None = None
    ) -> DictConfig:
        paths = [
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.log_dir={tmp_path / 'logs'}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"paths.data_dir={data_dir or tmp_path / 'data'}",
        ]
        model = model or next((o[6:] for o in overrides if o.startswith("model=")), None)
        tiny = (
            TINY
            if model in (None, "resnet")
            else [*(o for o in TINY if not o.startswith("model.")), *TINY_MODEL.get(model, [])]
        )
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            cfg = compose("train", overrides=[*tiny, *paths, *overrides])
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
        "trainer.max_epochs=6",
        "callbacks.early_stopping=null",
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


@pytest.fixture(scope="session")
def tiny_transformer(tmp_path_factory) -> Path:
    """A randomly initialised two-layer BERT with its own WordPiece tokenizer, saved to disk.

    It goes through exactly the code path of a real pretrained model (a local folder written
    by save_pretrained) and runs in milliseconds.
    """
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials)
    tokenizer.train_from_iterator([text for _, text in corpus()["train"]], trainer)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    fast.save_pretrained(folder)
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    return folder


TESTS_DIR = Path(__file__).parent


def run_module(module: str, *args: str, stdin: bytes | None = None):
    """``python -m <module> args`` with bytes in and out (stdin input, undecoded output)."""
    return run_cli(*args, module=module, stdin=stdin, text=False, timeout=300)


def run_cli(
    *args: str,
    module: str = "nlpclf.train",
    cwd: Path | None = None,
    timeout: int = 600,
    stdin: bytes | str | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """Run ``python -m <module> <args>`` as a user would; this folder is on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": f"{TESTS_DIR}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        input=stdin,
        capture_output=True,
        text=text,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )
