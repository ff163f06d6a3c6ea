"""Inference speed on the whole test split with the residual CNN of the accuracy benchmark:
``nlpclf.predict`` end to end (the speed target), and the PyTorch, ONNX float and ONNX int8
models alone as ``nlpclf.export`` times them in its check (tokenizing excluded)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

from benchmarks.common import Row, Settings, command_line, results_path, run_command
from benchmarks.config import path_overrides
from nlpclf.utils.cli import config_dir

TARGET = 500.0  # documents/s, end to end
QUICK_DOCUMENTS = 1000  # quick mode: the first documents of the test split only
RATE = re.compile(r"Predicted (\d+) documents in ([\d.]+) s \((\d+) documents/s\)")


def resnet_checkpoint(settings: Settings) -> str:
    """The first raw-protocol resnet checkpoint of this mode's accuracy benchmark."""
    path = results_path(settings, "resnet-raw")
    if path.is_file():
        for row in json.loads(path.read_text())["rows"]:
            checkpoints = row.get("extra", {}).get("checkpoints")
            if row["name"] == "resnet, raw" and checkpoints:
                return checkpoints[0]
    flag = " --quick" if settings.quick else ""
    raise SystemExit(
        f"The inference benchmark needs a trained resnet: run `python -m benchmarks.run --only "
        f"resnet{flag}` first (or `make bench MODEL=resnet`)."
    )


def test_documents(settings: Settings, target: Path) -> int:
    """The raw test split as JSON lines, the format users feed to nlpclf.predict."""
    from benchmarks.config import compose_train
    from nlpclf.utils.instantiate import instantiate_component

    datamodule = instantiate_component(compose_train(settings).data, "data")
    datamodule.prepare_data()
    assert datamodule.splits is not None
    texts = datamodule.splits["test"]["text"]
    if settings.quick:
        texts = texts[:QUICK_DOCUMENTS]
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w") as handle:
        for text in texts:
            handle.write(json.dumps({"text": text}) + "\n")
    return len(texts)


def predict_row(settings: Settings, checkpoint: str) -> Row:
    documents = settings.work_dir / "inference" / "test.jsonl"
    count = test_documents(settings, documents)
    out_dir = settings.work_dir / "inference"
    args = [
        sys.executable,
        "-m",
        "nlpclf.predict",
        f"ckpt_path={checkpoint}",
        f"input={documents}",
        f"output={out_dir / 'predictions.jsonl'}",
        "progress=false",
        f"paths.log_dir={settings.work_dir / 'logs'}",
        f"hydra.run.dir={out_dir / 'predict-run'}",
    ]
    run_command(args, out_dir / "predict.log")
    match = RATE.search((out_dir / "predict.log").read_text())
    if match is None or int(match.group(1)) != count:
        raise RuntimeError(f"nlpclf.predict did not report {count} predictions; see its log")
    rate = float(match.group(3))
    return Row(
        section="speed",
        name="prediction, nlpclf.predict (PyTorch, resnet)",
        figures={"documents_per_s": rate, "documents": count, "seconds": float(match.group(2))},
        command=command_line(args[:5]),
        target=f">= {TARGET:.0f} documents/s",
        met=None if settings.quick else rate >= TARGET,
        note="end to end: the whole raw test split read as JSON lines, protocol, tokenizing, "
        "batches of 32, writing JSON lines; loading the model not counted",
    )


def export_rows(settings: Settings, checkpoint: str) -> list[Row]:
    """ONNX float and int8 through ``nlpclf.export``, timed by its own check on every test doc."""
    from nlpclf.export import export

    overrides = [
        f"ckpt_path={checkpoint}",
        "format=onnx",
        "quantize=int8",
        f"output_dir={settings.work_dir / 'inference'}",
        f"verify_samples={QUICK_DOCUMENTS if settings.quick else 'null'}",
        *path_overrides(settings),
    ]
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("export", overrides=overrides)
    result = export(cfg)
    shown = command_line([sys.executable, "-m", "nlpclf.export", *overrides[:3]])
    rows = []
    for model in result["models"]:
        rows.append(
            Row(
                section="speed",
                name=f"prediction, {model['model']} (resnet, export check)",
                figures={
                    "documents_per_s": round(model["documents_per_second"], 1),
                    "accuracy": round(model["accuracy"], 4),
                    "agreement_with_pytorch": round(model["agreement_with_pytorch"], 4),
                    "size_mb": round(model["size_mb"], 2) if model["size_mb"] else None,
                    "documents": result["documents"],
                },
                command=shown,
                target=f">= {TARGET:.0f} documents/s (model only)",
                met=None if settings.quick else model["documents_per_second"] >= TARGET,
                note="model-only time on pre-tokenized batches of 32 (tokenizing not counted)",
            )
        )
    return rows


def run(settings: Settings) -> list[Row]:
    checkpoint = resnet_checkpoint(settings)
    return [predict_row(settings, checkpoint), *export_rows(settings, checkpoint)]
