"""What every validation dashboard shares: collecting one validation epoch on rank zero.

``TextClassifier.validation_step`` returns each batch's logits and document features; a
dashboard keeps them (with the labels) for one epoch and draws its panel at the epoch's end.
Dashboards work only on rank zero, only when a ``TensorBoardLogger`` is attached, and never
during the sanity check. In multi-process runs they show rank zero's share of the validation
set (the dataset positions come from the sampler, so texts still match their predictions).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger


@dataclass
class ValidationEpoch:
    """One validation epoch as rank zero saw it, in dataloader order."""

    logits: torch.Tensor  # (N, C)
    labels: torch.Tensor  # (N,)
    features: torch.Tensor | None  # (N, D) when the dashboard asked for them
    label_names: list[str]
    epoch: int
    step: int


def tensorboard_writer(trainer: L.Trainer) -> Any | None:
    """The ``SummaryWriter`` of the first TensorBoard logger, on rank zero; else None."""
    if not trainer.is_global_zero:
        return None
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


def validation_positions(trainer: L.Trainer, count: int) -> list[int]:
    """Dataset positions of the first ``count`` validation examples this rank saw."""
    loader = trainer.val_dataloaders
    if isinstance(loader, (list, tuple)):
        loader = loader[0]
    sampler = getattr(loader, "sampler", None)
    try:
        return [int(i) for i in itertools.islice(iter(sampler), count)]  # type: ignore[arg-type]
    except TypeError:
        return list(range(count))


class ValidationDashboard(L.Callback):
    """Base class: subclasses implement :meth:`draw`; ``wants_features`` asks for features."""

    wants_features = False

    def __init__(self) -> None:
        self._active = False
        self._logits: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._features: list[torch.Tensor] = []

    def is_enabled(self) -> bool:
        return True

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._logits, self._labels, self._features = [], [], []
        self._active = (
            self.is_enabled()
            and not trainer.sanity_checking
            and tensorboard_writer(trainer) is not None
        )

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not self._active or dataloader_idx != 0:
            return
        if not isinstance(outputs, dict) or "logits" not in outputs or "labels" not in batch:
            return
        self._logits.append(outputs["logits"].float().cpu())
        self._labels.append(batch["labels"].cpu())
        if self.wants_features and "features" in outputs:
            self._features.append(outputs["features"].float().cpu())

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if not self._active or writer is None or not self._logits:
            return
        epoch = ValidationEpoch(
            logits=torch.cat(self._logits),
            labels=torch.cat(self._labels),
            features=torch.cat(self._features) if self._features else None,
            label_names=list(pl_module.hparams.get("label_names") or []),
            epoch=trainer.current_epoch,
            step=trainer.global_step,
        )
        self._logits, self._labels, self._features = [], [], []
        if len(epoch.label_names) != epoch.logits.shape[1]:
            epoch.label_names = [str(i) for i in range(epoch.logits.shape[1])]
        self.draw(writer, trainer, epoch)

    def draw(self, writer: Any, trainer: L.Trainer, epoch: ValidationEpoch) -> None:
        raise NotImplementedError
