"""Classification metrics from predictions and labels, and their Markdown rendering.

One function computes everything a report shows (accuracy, macro and micro F1, the per-class
table, the confusion matrix and the most confused pairs) with torchmetrics, so ``nlpclf.eval``,
the TensorBoard dashboards and the notebook show the same numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)


@dataclass
class ClassificationReport:
    label_names: list[str]
    num_examples: int
    accuracy: float
    f1_macro: float
    f1_micro: float
    precision_macro: float
    recall_macro: float
    per_class: list[dict[str, Any]]  # label, precision, recall, f1, support
    confusion_matrix: list[list[int]]  # rows: true class, columns: predicted class

    def most_confused(self, k: int = 5) -> list[dict[str, Any]]:
        """The ``k`` largest off-diagonal cells: which true class goes to which wrong one."""
        pairs = [
            {
                "true": self.label_names[t],
                "predicted": self.label_names[p],
                "count": count,
                "share_of_true": count / max(1, sum(self.confusion_matrix[t])),
            }
            for t, row in enumerate(self.confusion_matrix)
            for p, count in enumerate(row)
            if t != p and count > 0
        ]
        pairs.sort(key=lambda pair: (-pair["count"], pair["true"], pair["predicted"]))
        return pairs[:k]

    def summary(self) -> dict[str, float]:
        return {
            "accuracy": self.accuracy,
            "f1_macro": self.f1_macro,
            "f1_micro": self.f1_micro,
            "precision_macro": self.precision_macro,
            "recall_macro": self.recall_macro,
        }

    def to_dict(self, top_confusions: int = 5) -> dict[str, Any]:
        return {**asdict(self), "most_confused": self.most_confused(top_confusions)}


def classification_report(
    scores: torch.Tensor, labels: torch.Tensor, label_names: list[str]
) -> ClassificationReport:
    """Metrics of ``scores`` (``(N, C)`` logits or probabilities) against ``labels`` ``(N,)``."""
    num_classes = len(label_names)
    if scores.ndim != 2 or scores.shape[1] != num_classes or len(scores) != len(labels):
        raise ValueError(f"scores {tuple(scores.shape)} do not match {len(labels)} labels")
    preds = scores.argmax(-1)
    labels = labels.long()

    def metric(fn: Any, average: str | None) -> torch.Tensor:
        return fn(preds, labels, num_classes=num_classes, average=average)

    precision = metric(multiclass_precision, None).tolist()
    recall = metric(multiclass_recall, None).tolist()
    f1 = metric(multiclass_f1_score, None).tolist()
    support = torch.bincount(labels, minlength=num_classes).tolist()
    per_class = [
        {"label": name, "precision": p, "recall": r, "f1": f, "support": s}
        for name, p, r, f, s in zip(label_names, precision, recall, f1, support, strict=True)
    ]
    confusion = multiclass_confusion_matrix(preds, labels, num_classes=num_classes)
    return ClassificationReport(
        label_names=list(label_names),
        num_examples=len(labels),
        accuracy=float(metric(multiclass_accuracy, "micro")),
        f1_macro=float(metric(multiclass_f1_score, "macro")),
        f1_micro=float(metric(multiclass_f1_score, "micro")),
        precision_macro=float(metric(multiclass_precision, "macro")),
        recall_macro=float(metric(multiclass_recall, "macro")),
        per_class=per_class,
        confusion_matrix=confusion.tolist(),
    )


# --------------------------------------------------------------------------- Markdown


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        return f"{value:.4f}" if isinstance(value, float) else _escape(str(value))

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_rows(reports: dict[str, ClassificationReport]) -> list[list[Any]]:
    return [
        [name, r.accuracy, r.f1_macro, r.f1_micro, r.precision_macro, r.recall_macro]
        for name, r in reports.items()
    ]


SUMMARY_HEADER = ["model", "accuracy", "macro F1", "micro F1", "macro precision", "macro recall"]
PER_CLASS_HEADER = ["class", "precision", "recall", "F1", "support"]
CONFUSED_HEADER = ["true class", "predicted as", "count", "share of true class"]


def per_class_rows(report: ClassificationReport) -> list[list[Any]]:
    keys = ("label", "precision", "recall", "f1", "support")
    return [[row[key] for key in keys] for row in report.per_class]


def confused_rows(report: ClassificationReport, k: int) -> list[list[Any]]:
    return [
        [p["true"], p["predicted"], p["count"], p["share_of_true"]] for p in report.most_confused(k)
    ]


def render_markdown(
    title: str,
    reports: dict[str, ClassificationReport],
    primary: str,
    top_confusions: int = 5,
    notes: list[str] | None = None,
) -> str:
    """A Markdown report: every model's summary, then the primary model's details."""
    report = reports[primary]
    parts = [f"# {title}", ""]
    parts += [f"- {note}" for note in notes or []]
    parts += ["", markdown_table(SUMMARY_HEADER, summary_rows(reports)), ""]
    parts += [f"## Per class ({primary})", ""]
    parts += [markdown_table(PER_CLASS_HEADER, per_class_rows(report)), ""]
    parts += [f"## Most confused pairs ({primary})", ""]
    confused = confused_rows(report, top_confusions)
    parts += [markdown_table(CONFUSED_HEADER, confused) if confused else "No errors.", ""]
    return "\n".join(parts)
