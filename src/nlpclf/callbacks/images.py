"""Per-class pictures of each validation epoch: the confusion matrix and per-class F1."""

from __future__ import annotations

from typing import Any

import lightning as L

from nlpclf.callbacks.base import ValidationDashboard, ValidationEpoch
from nlpclf.evaluation import classification_report
from nlpclf.plots import confusion_matrix_figure, per_class_bar_figure


class ConfusionMatrixImage(ValidationDashboard):
    """The validation confusion matrix as a TensorBoard image (Images tab)."""

    def __init__(self, tag: str = "val/confusion_matrix") -> None:
        super().__init__()
        self.tag = tag

    def draw(self, writer: Any, trainer: L.Trainer, epoch: ValidationEpoch) -> None:
        report = classification_report(epoch.logits, epoch.labels, epoch.label_names)
        figure = confusion_matrix_figure(
            report.confusion_matrix, epoch.label_names, title=f"Validation, epoch {epoch.epoch}"
        )
        writer.add_figure(self.tag, figure, global_step=epoch.step, close=True)


class ClassF1Chart(ValidationDashboard):
    """F1 of every class as a bar chart (Images tab): which classes lag behind."""

    def __init__(self, tag: str = "val/f1_per_class") -> None:
        super().__init__()
        self.tag = tag

    def draw(self, writer: Any, trainer: L.Trainer, epoch: ValidationEpoch) -> None:
        report = classification_report(epoch.logits, epoch.labels, epoch.label_names)
        figure = per_class_bar_figure(
            [row["f1"] for row in report.per_class],
            epoch.label_names,
            title=f"Validation F1 per class, epoch {epoch.epoch}",
        )
        writer.add_figure(self.tag, figure, global_step=epoch.step, close=True)
