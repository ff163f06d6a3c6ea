"""The one LightningModule: any encoder + a linear head, loss, metrics and optimizers.

Hyperparameters are saved as plain data only (the encoder, optimizer and scheduler arrive as
``_target_`` dictionaries and are instantiated here), so checkpoints load with
``torch.load(weights_only=True)``. The network is built from the data: vocabulary size, padding
id and label names come from the data module in :meth:`setup`, are recorded in the
hyperparameters, and a checkpoint therefore rebuilds the same network without any data.
"""

from __future__ import annotations

import inspect
import random
from typing import Any

import hydra
import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MaxMetric, MetricCollection, SumMetric
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from nlpclf.artifacts import ARTIFACTS_KEY, pack_artifacts, unpack_artifacts
from nlpclf.errors import ConfigError
from nlpclf.transfer import init_embedding
from nlpclf.utils.instantiate import to_plain

RNG_KEY = "nlpclf_rng_states"


def _as_tuple(value: Any) -> Any:
    """``random.setstate`` wants tuples; a checkpoint round trip may hand back lists."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value


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
        layerwise_lr_decay: below 1, each transformer layer's learning rate is this factor
            times the one above it (embeddings lowest, head at the full rate).
        word_vectors: start a word-level encoder's embeddings from a GloVe / word2vec text
            file or a pretrained transformer's input embeddings (Hub id or folder).
        freeze_embeddings: keep the word embeddings fixed.
        pretrained: the pretrained transformer (Hub id or folder) for encoders that take one;
            the data module reads the same setting to use that model's tokenizer.
        num_classes, vocab_size, pad_id, label_names: filled in from the data module.
    """

    def __init__(
        self,
        encoder: dict[str, Any],
        optimizer: dict[str, Any],
        scheduler: dict[str, Any] | None = None,
        label_smoothing: float = 0.0,
        head_dropout: float = 0.0,
        layerwise_lr_decay: float = 1.0,
        word_vectors: str | None = None,
        freeze_embeddings: bool = False,
        pretrained: str | None = None,
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
        if not 0.0 < layerwise_lr_decay <= 1.0:
            raise ConfigError(
                f"Invalid model.layerwise_lr_decay={layerwise_lr_decay}: use (0, 1], e.g. 0.9."
            )
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
        # what rebuilds the encoder without its original files (e.g. a transformer's config)
        extra = getattr(self.encoder, "checkpoint_config", dict)()
        self.hparams.encoder = {**self.hparams.encoder, **extra}
        if self.hparams.word_vectors:
            if not hasattr(self.encoder, "embedding"):
                raise ConfigError(
                    "model.word_vectors needs a word-level encoder (resnet, rnn); a "
                    "transformer brings its own embeddings."
                )
            vocab = datamodule.tokenizer.tokenizer.get_vocab()
            init_embedding(
                self.encoder.embedding, self.hparams.word_vectors, vocab, self.hparams.pad_id
            )

    def _build(self) -> None:
        hp = self.hparams
        self.encoder = instantiate_encoder(
            hp.encoder, vocab_size=hp.vocab_size, pad_id=hp.pad_id, pretrained=hp.pretrained
        )
        if hp.freeze_embeddings:
            if not hasattr(self.encoder, "embedding"):
                raise ConfigError("model.freeze_embeddings needs a word-level encoder.")
            self.encoder.embedding.weight.requires_grad_(False)
        self.head = nn.Sequential(
            nn.Dropout(hp.head_dropout), nn.Linear(self.encoder.output_dim, hp.num_classes)
        )
        metrics = build_metrics(hp.num_classes)
        # the examples each evaluation saw, summed over processes: proves that a distributed
        # run counts every example exactly once (no sampler padding)
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.val_count, self.test_count = SumMetric(), SumMetric()
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # in checkpoints, so a resumed run keeps its best

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
        self.val_count.update(len(batch["labels"]))
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
        values = {**self.val_metrics.compute(), "val/num_examples": self.val_count.compute()}
        self.val_metrics.reset()
        self.val_count.reset()
        self.log_dict(values)
        if not self.trainer.sanity_checking:
            self.val_acc_best.update(values["val/acc"])
            self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss, logits = self._loss(batch)
        self.test_metrics.update(logits, batch["labels"])
        self.test_count.update(len(batch["labels"]))
        self.log("test/loss", loss, on_epoch=True, sync_dist=True, batch_size=len(batch["labels"]))

    def on_test_epoch_end(self) -> None:
        self.log_dict(
            {**self.test_metrics.compute(), "test/num_examples": self.test_count.compute()}
        )
        self.test_metrics.reset()
        self.test_count.reset()

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self(batch["input_ids"], batch["attention_mask"]).float().softmax(-1)

    def on_train_epoch_start(self) -> None:
        states = getattr(self, "_pending_rng_states", None)
        if states:
            torch.set_rng_state(states["torch"])
            random.setstate(_as_tuple(states["python"]))
            if "cuda" in states and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(states["cuda"])
            self._pending_rng_states = None

    # ------------------------------------------------------------------ optimization

    def parameter_groups(self) -> list[dict[str, Any]]:
        """Trainable parameters grouped by weight decay and (layer-wise) learning rate.

        Biases, norms and embeddings are not weight-decayed (standard practice); frozen
        parameters are left out; with ``layerwise_lr_decay < 1`` an encoder that reports
        ``layer_depth`` gets lower rates the deeper a layer sits.
        """
        decay_rate = self.hparams.layerwise_lr_decay
        base_lr = self.hparams.optimizer.get("lr")
        depth_of = getattr(self.encoder, "layer_depth", None)
        groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            decayed = param.ndim >= 2 and "embedding" not in name
            scale = 1.0
            if decay_rate < 1.0 and depth_of is not None and name.startswith("encoder."):
                depth, top = depth_of(name.removeprefix("encoder."))
                scale = decay_rate ** (top - depth)
            groups.setdefault((scale, decayed), []).append(param)
        out = []
        for (scale, decayed), params in sorted(groups.items(), key=lambda kv: kv[0]):
            group: dict[str, Any] = {"params": params}
            if not decayed:
                group["weight_decay"] = 0.0
            if scale != 1.0 and base_lr is not None:
                group["lr"] = base_lr * scale
            out.append(group)
        return out

    def configure_optimizers(self) -> Any:
        groups = self.parameter_groups()
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
        # random states (plain tensors and ints, safe under weights_only) so a resumed run
        # draws the same dropout masks as one that was never interrupted
        checkpoint[RNG_KEY] = {"torch": torch.get_rng_state(), "python": random.getstate()}
        if torch.cuda.is_available():
            checkpoint[RNG_KEY]["cuda"] = torch.cuda.get_rng_state_all()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # resuming a fit (not loading for inference): the states apply when training resumes,
        # after the sanity check and data loading that the uninterrupted run did not repeat
        if self._trainer is not None:
            self._pending_rng_states = checkpoint.get(RNG_KEY)
        self.artifacts = unpack_artifacts(checkpoint)
