"""The one LightningModule: any encoder + a linear head, loss, metrics and optimizers.

Hyperparameters are saved as plain data only (the encoder, optimizer and scheduler arrive as
``_target_`` dictionaries and are instantiated here), so checkpoints load with
``torch.load(weights_only=True)``. The network is built from the data: vocabulary size, padding
id and label names come from the data module in :meth:`setup`, are recorded in the
hyperparameters, and a checkpoint therefore rebuilds the same network without any data.
"""

from __future__ import annotations

import inspect
from typing import Any

import hydra
import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MaxMetric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from nlpclf.artifacts import ARTIFACTS_KEY, pack_artifacts, unpack_artifacts
from nlpclf.errors import ConfigError
from nlpclf.utils.instantiate import to_plain


def build_metrics(num_classes: int) -> MetricCollection:
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "f1_macro": MulticlassF1Score(num_classes, average="macro"),
            "precision_macro": MulticlassPrecision(num_classes, average="macro"),
            "recall_macro": MulticlassRecall(num_classes, average="macro"),
        }
    )


def instantiate_encoder(encoder: dict[str, Any], **available: Any) -> nn.Module:
    """Build an encoder from its config, passing the data-derived arguments it accepts."""
    try:
        target = hydra.utils.get_class(encoder["_target_"])
    except Exception as exc:
        raise ConfigError(f"model.encoder._target_ cannot be imported: {exc}") from None
    accepted = inspect.signature(target).parameters
    extra = {k: v for k, v in available.items() if k in accepted and k not in encoder}
    try:
        return hydra.utils.instantiate(encoder, **extra)
    except Exception as exc:
        raise ConfigError(
            f"model.encoder could not be built: {exc}. Check the model.encoder.* values "
            f"against the arguments of {encoder['_target_']}: {list(accepted)}."
        ) from None


class TextClassifier(L.LightningModule):
    """Encoder features -> dropout -> linear -> class logits, trained with cross-entropy.

    Args:
        encoder: ``_target_`` config of an encoder in :mod:`nlpclf.models`.
        optimizer: ``_target_`` config of a ``torch.optim`` optimizer (without ``params``).
        scheduler: optional ``_target_`` config of a schedule factory taking ``optimizer``
            and ``num_training_steps`` (see :func:`nlpclf.optim.warmup_schedule`).
        label_smoothing: cross-entropy label smoothing.
        head_dropout: dropout before the linear head.
        num_classes, vocab_size, pad_id, label_names: filled in from the data module.
    """

    def __init__(
        self,
        encoder: dict[str, Any],
        optimizer: dict[str, Any],
        scheduler: dict[str, Any] | None = None,
        label_smoothing: float = 0.0,
        head_dropout: float = 0.0,
        num_classes: int | None = None,
        vocab_size: int | None = None,
        pad_id: int = 0,
        label_names: list[str] | None = None,
    ) -> None:
        super().__init__()
        # Hydra hands nested nodes over as OmegaConf containers; checkpoints must hold only
        # plain data (weights_only=True), so convert before save_hyperparameters reads them.
        encoder, optimizer, scheduler = to_plain(encoder), to_plain(optimizer), to_plain(scheduler)
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"Invalid model.label_smoothing={label_smoothing}: use [0, 1).")
        self.save_hyperparameters()
        self.encoder: nn.Module | None = None
        self.head: nn.Module | None = None
        self.artifacts: dict[str, Any] = {}
        if num_classes is not None:
            self._build()

    # ------------------------------------------------------------------ construction

    def setup(self, stage: str) -> None:
        if self.encoder is not None:
            return
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is None or not hasattr(datamodule, "artifacts"):
            raise ConfigError("TextClassifier needs a TextDataModule passed to the Trainer.")
        self.hparams.update(
            num_classes=datamodule.num_classes,
            vocab_size=datamodule.vocab_size,
            pad_id=datamodule.pad_id,
            label_names=list(datamodule.label_names),
        )
        self.artifacts = datamodule.artifacts()
        self._build()

    def _build(self) -> None:
        hp = self.hparams
        self.encoder = instantiate_encoder(hp.encoder, vocab_size=hp.vocab_size, pad_id=hp.pad_id)
        self.head = nn.Sequential(
            nn.Dropout(hp.head_dropout), nn.Linear(self.encoder.output_dim, hp.num_classes)
        )
        metrics = build_metrics(hp.num_classes)
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.val_acc_best = MaxMetric()

    # ------------------------------------------------------------------ forward and steps

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        assert self.head is not None, "model is not built yet"
        return self.head(self.features(input_ids, attention_mask))

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The encoder's document vectors, before the head (what the projector shows)."""
        assert self.encoder is not None, "model is not built yet"
        return self.encoder(input_ids, attention_mask)

    def _criterion(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), labels, label_smoothing=self.hparams.label_smoothing)

    def _loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["input_ids"], batch["attention_mask"])
        return self._criterion(logits, batch["labels"]), logits

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, _ = self._loss(batch)
        self.log(
            "train/loss",
            loss,
            on_step=True,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(batch["labels"]),
        )
        return loss

    def validation_step(
        self, batch: dict[str, torch.Tensor], batch_idx: int
    ) -> dict[str, torch.Tensor]:
        features = self.features(batch["input_ids"], batch["attention_mask"])
        logits = self.head(features)
        loss = self._criterion(logits, batch["labels"])
        self.val_metrics.update(logits, batch["labels"])
        self.log(
            "val/loss",
            loss,
            on_epoch=True,
            prog_bar=True,
            sync_dist=True,
            batch_size=len(batch["labels"]),
        )
        # for the dashboards in nlpclf.callbacks (Lightning hands them to on_validation_batch_end)
        return {"logits": logits.detach(), "features": features.detach()}

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()
        self.val_metrics.reset()
        self.log_dict(values)
        if not self.trainer.sanity_checking:
            self.val_acc_best.update(values["val/acc"])
            self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss, logits = self._loss(batch)
        self.test_metrics.update(logits, batch["labels"])
        self.log("test/loss", loss, on_epoch=True, sync_dist=True, batch_size=len(batch["labels"]))

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self(batch["input_ids"], batch["attention_mask"]).float().softmax(-1)

    # ------------------------------------------------------------------ optimization

    def configure_optimizers(self) -> Any:
        decay, no_decay = [], []
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            # biases, norms and embeddings are not weight-decayed (standard practice)
            (no_decay if param.ndim < 2 or "embedding" in name else decay).append(param)
        groups = [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]
        try:
            optimizer = hydra.utils.instantiate(self.hparams.optimizer)(groups)
        except Exception as exc:
            raise ConfigError(
                f"The optimizer config could not be built: {exc}. It must be a `_partial_: true` "
                "optimizer such as conf/optimizer/adamw.yaml."
            ) from None
        if not self.hparams.scheduler:
            return optimizer
        scheduler = hydra.utils.instantiate(self.hparams.scheduler)(
            optimizer, num_training_steps=self.trainer.estimated_stepping_batches
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    # ------------------------------------------------------------------ checkpoints

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[ARTIFACTS_KEY] = pack_artifacts(self.artifacts)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.artifacts = unpack_artifacts(checkpoint)
