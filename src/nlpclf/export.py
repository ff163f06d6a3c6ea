"""Export a checkpoint for serving: ``python -m nlpclf.export ckpt_path=… format=onnx|torchscript``.

``export(cfg)`` is a plain function; ``main`` is the thin Hydra wrapper. The export is checked
on real documents (a sample of the data config's split, batched as prediction batches them, so
batch sizes and sequence lengths vary) against the checkpoint in PyTorch; it is only kept when
its largest logit difference is within ``tolerance``. ``quantize=int8`` adds a dynamically
quantized ONNX model and prints its size, speed and accuracy beside the float model's.
Files are written to a temporary name and renamed, so a failed export never leaves a broken
file behind, nor replaces a good one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import rich
import rich.table
from omegaconf import DictConfig

from nlpclf.data.labeled import labeled_split_from_config
from nlpclf.errors import ConfigError, ExportError
from nlpclf.exporters import (
    OnnxRunner,
    TorchRunner,
    TorchScriptRunner,
    quantize_onnx_int8,
    write_onnx,
    write_torchscript,
)
from nlpclf.inference import Batch, Predictor, checkpoint_paths, set_threads
from nlpclf.utils.cli import config_dir, user_errors_reported
from nlpclf.utils.files import atomic_path

log = logging.getLogger(__name__)

FORMATS = {
    "onnx": (".onnx", write_onnx, OnnxRunner),
    "torchscript": (".torchscript.pt", write_torchscript, TorchScriptRunner),
}
QUANTIZATIONS = ("int8",)


@dataclass
class Measurement:
    """One model's results on the check batches."""

    model: str
    path: str | None
    size_mb: float | None
    documents_per_second: float
    accuracy: float
    agreement_with_pytorch: float
    max_abs_logit_diff: float


def run_batches(runner: Callable[[Batch], np.ndarray], batches: list[Batch]) -> tuple[Any, float]:
    """All logits (in batch order) and the seconds they took, after one warm-up batch."""
    runner(batches[0])
    started = time.perf_counter()
    logits = np.concatenate([runner(batch) for batch in batches])
    return logits, time.perf_counter() - started


def measure(
    name: str,
    runner: Callable[[Batch], np.ndarray],
    batches: list[Batch],
    labels: np.ndarray,
    reference: np.ndarray | None,
    path: Path | None,
) -> tuple[Measurement, np.ndarray]:
    logits, seconds = run_batches(runner, batches)
    predicted = logits.argmax(-1)
    reference = logits if reference is None else reference
    measurement = Measurement(
        model=name,
        path=str(path) if path else None,
        size_mb=path.stat().st_size / 2**20 if path else None,
        documents_per_second=len(labels) / max(seconds, 1e-9),
        accuracy=float((predicted == labels).mean()),
        agreement_with_pytorch=float((predicted == reference.argmax(-1)).mean()),
        max_abs_logit_diff=float(np.abs(logits - reference).max()),
    )
    return measurement, logits


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"format=onnx needs the packages onnx and onnxruntime ({exc}). Install them with "
            "pip install 'nlpclf[export]', or use format=torchscript."
        ) from None


def export(cfg: DictConfig) -> dict[str, Any]:
    """Write the export(s) beside the checkpoint or to ``output_dir``; return the measurements."""
    paths = checkpoint_paths(cfg.get("ckpt_path"))
    if len(paths) != 1:
        raise ConfigError(f"nlpclf.export takes one checkpoint, got {len(paths)}.")
    fmt = str(cfg.get("format", "onnx"))
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown format={fmt!r}. Choose one of {sorted(FORMATS)}.")
    quantize = cfg.get("quantize")
    if quantize is not None and (quantize not in QUANTIZATIONS or fmt != "onnx"):
        raise ConfigError(
            f"quantize={quantize!r} is not available for format={fmt}: use quantize=int8 with "
            "format=onnx, or quantize=null."
        )
    if fmt == "onnx":
        require_onnx()
    threads = cfg.get("threads")
    set_threads(threads)
    tolerance = float(cfg.get("tolerance", 1e-4))
    checkpoint = paths[0]
    predictor = Predictor.from_checkpoint(checkpoint)

    texts, labels = labeled_split_from_config(
        cfg.data,
        str(cfg.get("split", "test")),
        predictor.label_names,
        limit=cfg.get("verify_samples"),
        seed=int(cfg.get("seed") or 0),
    )
    positions, batches = [], []
    for batch_positions, batch in predictor.batches(texts, int(cfg.get("batch_size", 32))):
        positions += batch_positions
        batches.append(batch)
    labels_in_order = labels[positions].numpy()
    log.info("Checking the export on %d documents in %d batches", len(texts), len(batches))

    torch_row, reference = measure(
        "pytorch", TorchRunner(predictor), batches, labels_in_order, None, None
    )
    suffix, write, runner = FORMATS[fmt]
    out_dir = Path(cfg.output_dir).expanduser() if cfg.get("output_dir") else checkpoint.parent
    target = out_dir / f"{checkpoint.stem}{suffix}"
    longest = max(batches, key=lambda b: b["input_ids"].shape[1])
    with atomic_path(target) as partial:
        write(predictor, partial, longest)
        exported = runner(partial, threads)
        row, _ = measure(fmt, exported, batches, labels_in_order, reference, partial)
        if row.max_abs_logit_diff > tolerance:
            raise ExportError(
                f"The {fmt} export of '{checkpoint}' differs from PyTorch by up to "
                f"{row.max_abs_logit_diff:.3g} in the logits, more than tolerance={tolerance:g}; "
                "nothing was written. Report it as an nlpclf bug, and try the other format."
            )
    row.path = str(target)
    rows = [torch_row, row]
    if quantize == "int8":
        quantized = out_dir / f"{checkpoint.stem}.int8.onnx"
        with atomic_path(quantized) as partial:
            quantize_onnx_int8(target, partial)
            int8_row, _ = measure(
                "onnx int8",
                OnnxRunner(partial, threads),
                batches,
                labels_in_order,
                reference,
                partial,
            )
        int8_row.path = str(quantized)
        rows.append(int8_row)

    print_measurements(rows, tolerance)
    return {
        "checkpoint": str(checkpoint),
        "documents": len(texts),
        "max_abs_logit_diff": row.max_abs_logit_diff,
        "files": [r.path for r in rows if r.path],
        "models": [asdict(r) for r in rows],
    }


def print_measurements(rows: list[Measurement], tolerance: float) -> None:
    table = rich.table.Table(title="Export check (against the checkpoint in PyTorch)")
    for column in ("model", "size MB", "docs/s", "accuracy", "agreement", "max |Δ logit|"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        size = f"{r.size_mb:.2f}" if r.size_mb is not None else "-"
        table.add_row(
            r.model,
            size,
            f"{r.documents_per_second:.0f}",
            f"{r.accuracy:.4f}",
            f"{r.agreement_with_pytorch:.4f}",
            f"{r.max_abs_logit_diff:.2e}",
        )
    rich.print(table)
    float_row = rows[1]
    print(
        f"{float_row.model}: max |logit difference| {float_row.max_abs_logit_diff:.3g} "
        f"<= tolerance {tolerance:g}; wrote {float_row.path}"
    )
    for r in rows[2:]:
        print(
            f"{r.model}: size x{r.size_mb / float_row.size_mb:.2f}, speed "
            f"x{r.documents_per_second / float_row.documents_per_second:.2f}, accuracy "
            f"{r.accuracy - float_row.accuracy:+.4f} vs the float model; wrote {r.path}"
        )


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="export")
def main(cfg: DictConfig) -> None:
    with user_errors_reported():
        export(cfg)


if __name__ == "__main__":
    main()
