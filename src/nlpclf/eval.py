"""Evaluate checkpoints on a labelled split: ``python -m nlpclf.eval ckpt_path=… [data options]``.

``evaluate(cfg)`` is a plain function (tests and notebooks call it); ``main`` is the thin Hydra
wrapper. Each checkpoint brings its own tokenizer, protocol and label names, so only the corpus
comes from the data config. Several checkpoints (``ckpt_path=[a,b,c]``) are scored one by one
and as an ensemble that averages their class probabilities.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import rich
import rich.table
import torch
from omegaconf import DictConfig

from nlpclf.data.labeled import labeled_split_from_config
from nlpclf.errors import CheckpointError
from nlpclf.evaluation import (
    CONFUSED_HEADER,
    PER_CLASS_HEADER,
    SUMMARY_HEADER,
    ClassificationReport,
    classification_report,
    confused_rows,
    per_class_rows,
    render_markdown,
    summary_rows,
)
from nlpclf.inference import Predictor, checkpoint_paths, set_threads
from nlpclf.plots import confusion_matrix_figure, save_figure
from nlpclf.utils.cli import config_dir, user_errors_reported
from nlpclf.utils.files import write_text_atomic

log = logging.getLogger(__name__)

ENSEMBLE = "ensemble"


def member_names(paths: list[Path]) -> list[str]:
    """Short, unique names for the report: file names when those differ, else full paths."""
    for names in ([p.name for p in paths], [str(p) for p in paths]):
        if len(set(names)) == len(names):
            return names
    return [f"{i + 1}: {p}" for i, p in enumerate(paths)]  # the same file given twice


def check_same_labels(predictors: list[Predictor]) -> list[str]:
    first = predictors[0]
    for other in predictors[1:]:
        if other.label_names != first.label_names:
            raise CheckpointError(
                f"The checkpoints '{first.path}' and '{other.path}' have different label names "
                f"({first.label_names[:6]}... vs {other.label_names[:6]}...). An ensemble "
                "averages probabilities class by class, so every member must be trained on the "
                "same classes in the same order."
            )
    return first.label_names


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score the checkpoint(s), print the report, write it as JSON, Markdown and a PNG."""
    set_threads(cfg.get("threads"))
    paths = checkpoint_paths(cfg.get("ckpt_path"))
    predictors = [Predictor.from_checkpoint(p) for p in paths]
    label_names = check_same_labels(predictors)
    split = str(cfg.get("split", "test"))
    texts, labels = labeled_split_from_config(
        cfg.data, split, label_names, limit=cfg.get("limit"), seed=int(cfg.get("seed") or 0)
    )
    log.info("Evaluating %d checkpoint(s) on %d %s examples", len(paths), len(texts), split)

    reports: dict[str, ClassificationReport] = {}
    total = torch.zeros(len(texts), len(label_names))
    names = member_names(paths)
    for name, predictor in zip(names, predictors, strict=True):
        probabilities = predictor.probabilities(
            texts, int(cfg.get("batch_size", 128)), progress=bool(cfg.get("progress", True))
        )
        reports[name] = classification_report(probabilities, labels, label_names)
        total += probabilities
    primary = next(iter(reports))
    if len(predictors) > 1:
        reports[ENSEMBLE] = classification_report(total / len(predictors), labels, label_names)
        primary = ENSEMBLE

    top = int(cfg.get("top_confusions", 5))
    print_report(reports, primary, top)
    result = {
        "split": split,
        "num_examples": len(texts),
        "checkpoints": {name: str(p) for name, p in zip(names, paths, strict=True)},
        "primary": primary,
        "label_names": label_names,
        "models": {name: report.to_dict(top) for name, report in reports.items()},
    }
    result["files"] = write_report(cfg, paths, result, reports, primary, top)
    return result


def write_report(
    cfg: DictConfig,
    paths: list[Path],
    result: dict[str, Any],
    reports: dict[str, ClassificationReport],
    primary: str,
    top: int,
) -> dict[str, str]:
    out_dir = Path(cfg.output_dir).expanduser() if cfg.get("output_dir") else paths[0].parent
    stem = ENSEMBLE if len(paths) > 1 else paths[0].stem
    base = out_dir / f"eval-{stem}-{result['split']}"
    notes = [f"checkpoint `{path}`" for path in paths]
    notes.append(f"{result['num_examples']} examples of the {result['split']} split")
    markdown = render_markdown(
        f"Evaluation on the {result['split']} split", reports, primary, top, notes
    )
    figure = confusion_matrix_figure(
        reports[primary].confusion_matrix,
        result["label_names"],
        title=f"{primary}: {result['split']} split",
    )
    files = {
        "json": str(base.with_suffix(".json")),
        "markdown": str(base.with_suffix(".md")),
        "confusion_matrix": str(base.parent / f"{base.name}-confusion.png"),
    }
    write_text_atomic(files["json"], json.dumps(result, indent=2) + "\n")
    write_text_atomic(files["markdown"], markdown)
    save_figure(figure, files["confusion_matrix"])
    print("Wrote", *files.values(), sep="\n  ")
    return files


def print_report(reports: dict[str, ClassificationReport], primary: str, top: int) -> None:
    def table(title: str, header: list[str], rows: list[list[Any]]) -> rich.table.Table:
        out = rich.table.Table(title=title)
        for index, column in enumerate(header):
            out.add_column(column, justify="right" if index else "left", overflow="fold")
        for row in rows:
            out.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row))
        return out

    rich.print(table("Evaluation", SUMMARY_HEADER, summary_rows(reports)))
    rich.print(table(f"Per class ({primary})", PER_CLASS_HEADER, per_class_rows(reports[primary])))
    confused = confused_rows(reports[primary], top)
    if confused:
        rich.print(table(f"Most confused pairs ({primary})", CONFUSED_HEADER, confused))


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="eval")
def main(cfg: DictConfig) -> None:
    with user_errors_reported():
        evaluate(cfg)


if __name__ == "__main__":
    main()
