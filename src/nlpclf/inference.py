"""Texts -> probabilities with a checkpoint's own preprocessing, shared by eval, predict, export.

The checkpoint alone is enough: its artifacts rebuild the tokenizer (truncation included), the
preprocessing protocol and the label names exactly as training applied them, so a score here
equals what ``trainer.test`` measured on the same texts.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from nlpclf.artifacts import load_classifier
from nlpclf.classifier import TextClassifier
from nlpclf.data.datamodule import INPUT_IDS, PadCollator
from nlpclf.data.protocols import get_protocol
from nlpclf.data.tokenizer import TextTokenizer
from nlpclf.errors import CheckpointError, ConfigError
from nlpclf.utils.instantiate import to_plain

Batch = dict[str, torch.Tensor]


def checkpoint_paths(value: Any) -> list[Path]:
    """``ckpt_path`` as a list of paths: one string, or a list for an ensemble."""
    value = to_plain(value)
    paths = [value] if isinstance(value, str) else value
    if not paths or not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ConfigError(
            f"Invalid ckpt_path={value!r}: pass one checkpoint, ckpt_path=/path/to.ckpt, or "
            "several for an ensemble, ckpt_path=[a.ckpt,b.ckpt]."
        )
    return [Path(p).expanduser() for p in paths]


def set_threads(threads: int | None) -> None:
    """CPU threads for PyTorch (None: its default, one per core).

    On a machine whose cores are busy with other work, fewer threads than cores can be many
    times faster: threads that wait for a descheduled partner at every operation stall.
    """
    if threads is None:
        return
    if not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"Invalid threads={threads!r}: use a positive integer or null.")
    torch.set_num_threads(threads)


@dataclass
class Predictor:
    """A trained classifier with the preprocessing it was trained with, on the CPU."""

    model: TextClassifier
    tokenizer: TextTokenizer
    protocol: Callable[[str], str]
    label_names: list[str]
    path: Path

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> Predictor:
        model = load_classifier(path)
        fold = getattr(model.encoder, "fold_for_inference", None)
        if fold is not None:  # an exact rewrite that only inference can use (frozen weights)
            fold()
        artifacts = model.artifacts
        tokenizer = TextTokenizer.from_artifact(artifacts).truncate_to(int(artifacts["max_length"]))
        try:
            protocol = get_protocol(str(artifacts["protocol"]))
        except ConfigError:
            raise CheckpointError(
                f"Checkpoint '{path}' was trained with the preprocessing protocol "
                f"{artifacts['protocol']!r}, which this nlpclf does not know. Use the nlpclf "
                "release that trained it."
            ) from None
        label_names = [str(name) for name in artifacts["label_names"]]
        return cls(model, tokenizer, protocol, label_names, Path(path))

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Protocol, then tokenizer: the same two steps as the training pipeline."""
        return self.tokenizer.encode_batch([self.protocol(text or "") for text in texts])

    def batches(self, texts: Sequence[str], batch_size: int) -> Iterator[tuple[list[int], Batch]]:
        """Length-sorted batches, each with the positions of its texts in ``texts``.

        Sorting keeps padding small (much faster on long-tailed corpora); the encoders ignore
        padded positions, so it changes speed and not results.
        """
        if batch_size < 1:
            raise ConfigError(f"Invalid batch_size={batch_size}: use a positive integer.")
        ids = self.encode(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        collate = PadCollator(self.tokenizer.pad_id)
        for start in range(0, len(order), batch_size):
            positions = order[start : start + batch_size]
            yield positions, collate([{INPUT_IDS: ids[i]} for i in positions])

    @torch.inference_mode()
    def logits(
        self, texts: Sequence[str], batch_size: int = 64, progress: bool = False
    ) -> torch.Tensor:
        """``(len(texts), num_classes)`` float logits, in the order of ``texts``."""
        out = torch.empty(len(texts), self.num_classes)
        with progress_bar(len(texts), "Predicting", enabled=progress) as advance:
            for positions, batch in self.batches(texts, batch_size):
                logits = self.model(batch["input_ids"], batch["attention_mask"])
                out[positions] = logits.float()
                advance(len(positions))
        return out

    def probabilities(
        self, texts: Sequence[str], batch_size: int = 64, progress: bool = False
    ) -> torch.Tensor:
        return self.logits(texts, batch_size, progress).softmax(-1)

    def check_top_k(self, k: int) -> None:
        if not isinstance(k, int) or not 1 <= k <= self.num_classes:
            raise ConfigError(
                f"top_k={k} is not possible: the checkpoint '{self.path}' has "
                f"{self.num_classes} classes. Use 1 <= top_k <= {self.num_classes}."
            )

    def top_k(self, probabilities: torch.Tensor, k: int) -> list[dict[str, Any]]:
        """One record per row: the predicted label, its probability and the ``k`` best."""
        self.check_top_k(k)
        values, indices = probabilities.topk(k, dim=-1)
        records = []
        for row_values, row_indices in zip(values.tolist(), indices.tolist(), strict=True):
            best = [
                {"label": self.label_names[i], "probability": round(p, 6)}
                for p, i in zip(row_values, row_indices, strict=True)
            ]
            records.append({**best[0], "top_k": best})
        return records

    def predict(
        self, texts: Sequence[str], top_k: int = 1, batch_size: int = 64, progress: bool = False
    ) -> list[dict[str, Any]]:
        """Label, probability and top-k labels for each text, in order."""
        self.check_top_k(top_k)
        return self.top_k(self.probabilities(texts, batch_size, progress), top_k)


@contextlib.contextmanager
def progress_bar(
    total: int, description: str, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; draws a rich bar on stderr (stdout may carry results).

    Only on a terminal: redirected to a file or a pipe, a bar would leave stray lines behind.
    """
    console = Console(file=sys.stderr)
    if not enabled or not console.is_terminal:
        yield lambda n: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)
