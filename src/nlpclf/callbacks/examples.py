"""Validation documents themselves: the worst mistakes as text, all of them in the projector."""

from __future__ import annotations

from typing import Any

import lightning as L

from nlpclf.callbacks.base import ValidationDashboard, ValidationEpoch, validation_positions
from nlpclf.evaluation import markdown_table


class MisclassifiedText(ValidationDashboard):
    """The most confidently misclassified validation documents, as a table (Text tab).

    Confident mistakes are where label noise, ambiguous classes and shortcuts show up first.
    The texts come from ``trainer.datamodule.splits["validation"]`` (a ``TextDataModule``).
    """

    def __init__(
        self, tag: str = "val/misclassified", max_examples: int = 10, max_chars: int = 300
    ) -> None:
        super().__init__()
        self.tag = tag
        self.max_examples = max_examples
        self.max_chars = max_chars

    def draw(self, writer: Any, trainer: L.Trainer, epoch: ValidationEpoch) -> None:
        probabilities = epoch.logits.softmax(-1)
        confidence, predicted = probabilities.max(-1)
        wrong = (predicted != epoch.labels).nonzero().flatten()
        worst = wrong[confidence[wrong].argsort(descending=True)][: self.max_examples].tolist()
        heading = f"**Epoch {epoch.epoch}**: {len(wrong)} of {len(epoch.labels)} misclassified"
        if not worst:
            writer.add_text(self.tag, heading + ".", global_step=epoch.step)
            return
        positions = validation_positions(trainer, len(epoch.labels))
        rows = [
            [
                f"{confidence[i].item():.3f}",
                epoch.label_names[int(epoch.labels[i])],
                epoch.label_names[int(predicted[i])],
                self._text(trainer, positions[i]),
            ]
            for i in worst
        ]
        header = ["confidence", "true", "predicted", "text"]
        markdown = f"{heading}; the most confident mistakes:\n\n{markdown_table(header, rows)}"
        writer.add_text(self.tag, markdown, global_step=epoch.step)

    def _text(self, trainer: L.Trainer, position: int) -> str:
        splits = getattr(getattr(trainer, "datamodule", None), "splits", None)
        if not splits or "validation" not in splits:
            return "(text unavailable)"
        text = " ".join(str(splits["validation"][position]["text"] or "").split())
        if len(text) > self.max_chars:
            text = text[: self.max_chars].rstrip() + "…"
        return text.replace("`", "'").replace("*", "\\*").replace("_", "\\_")


class EmbeddingProjector(ValidationDashboard):
    """Document vectors of the validation set in TensorBoard's Projector, labelled.

    Off by default (``callbacks.projector.enabled=true``): it writes ``max_examples`` vectors
    per validation epoch, which adds up on large corpora.
    """

    wants_features = True

    def __init__(
        self, enabled: bool = False, tag: str = "val/documents", max_examples: int = 2000
    ) -> None:
        super().__init__()
        self.enabled = enabled
        self.tag = tag
        self.max_examples = max_examples

    def is_enabled(self) -> bool:
        return self.enabled

    def draw(self, writer: Any, trainer: L.Trainer, epoch: ValidationEpoch) -> None:
        if epoch.features is None:
            return
        n = min(self.max_examples, len(epoch.labels))
        predicted = epoch.logits[:n].argmax(-1).tolist()
        metadata = [
            [epoch.label_names[int(label)], epoch.label_names[p]]
            for label, p in zip(epoch.labels[:n].tolist(), predicted, strict=True)
        ]
        writer.add_embedding(
            epoch.features[:n],
            metadata=metadata,
            metadata_header=["label", "predicted"],
            tag=self.tag,
            global_step=epoch.step,
        )
