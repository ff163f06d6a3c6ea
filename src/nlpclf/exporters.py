"""A checkpoint's network as ONNX or TorchScript, ONNX int8 quantization, and their runners.

Exported models take ``input_ids`` and ``attention_mask`` (int64, ``(batch, sequence)``, both
axes dynamic) and return ``logits``. The checkpoint's artifacts (tokenizer, label names,
protocol, truncation length, format version) travel inside the file, as ONNX metadata or a
TorchScript extra file, so an export is as self-contained as the checkpoint it came from.

Both formats go through the TorchScript tracer (``torch.onnx.export(dynamo=False)`` and
``torch.jit.trace``), which torch 2.9+ marks deprecated: the newer ``torch.export`` path
specializes the sequence length of ``max_pool1d`` (torch 2.13), so the residual CNN would lose
its dynamic sequence axis. Their deprecation warnings are silenced here, not ignored: every
export is checked against PyTorch by :mod:`nlpclf.export` before it is kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nlpclf.artifacts import pack_artifacts
from nlpclf.inference import Batch, Predictor

INPUT_NAMES = ["input_ids", "attention_mask"]
OUTPUT_NAMES = ["logits"]
METADATA_KEY = "nlpclf_artifacts"
ONNX_OPSET = 17


class LogitsNet(nn.Module):
    """Encoder and head without Lightning around them: what gets traced."""

    def __init__(self, predictor: Predictor) -> None:
        super().__init__()
        self.encoder = predictor.model.encoder
        self.head = predictor.model.head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(input_ids, attention_mask))


def artifacts_json(predictor: Predictor) -> str:
    return json.dumps(pack_artifacts(predictor.model.artifacts))


@contextlib.contextmanager
def _quiet_tracer() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*[Cc]onstant folding.*")
        yield


def _inputs(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    return batch["input_ids"], batch["attention_mask"]


# --------------------------------------------------------------------------- ONNX


def write_onnx(predictor: Predictor, path: Path, example: Batch, opset: int = ONNX_OPSET) -> None:
    """Trace ``predictor``'s network on ``example`` into ``path`` with dynamic axes."""
    import onnx

    axes = {0: "batch", 1: "sequence"}
    net = LogitsNet(predictor).eval()
    with _quiet_tracer(), torch.no_grad():
        torch.onnx.export(
            net,
            _inputs(example),
            str(path),
            dynamo=False,
            input_names=INPUT_NAMES,
            output_names=OUTPUT_NAMES,
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": {0: "batch"}},
            opset_version=opset,
        )
    add_onnx_metadata(path, {METADATA_KEY: artifacts_json(predictor)})
    onnx.checker.check_model(str(path))


def add_onnx_metadata(path: Path, metadata: dict[str, str]) -> None:
    import onnx

    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, {**read_onnx_metadata(model), **metadata})
    onnx.save(model, str(path))


def read_onnx_metadata(model: Any) -> dict[str, str]:
    import onnx

    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model), load_external_data=False)
    return {prop.key: prop.value for prop in model.metadata_props}


# Embedding lookups and matrix products. Convolutions stay float: onnxruntime's ConvInteger
# ran the residual CNN 1.5-4x slower than its float kernels on CPU, while the embedding table
# holds most of the weights (about 25 of 27 MB for the default model on 20 Newsgroups).
QUANTIZED_OPS = ["Gather", "MatMul", "Gemm"]


def quantize_onnx_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization: int8 weights, activations quantized on the fly."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    metadata = read_onnx_metadata(source)
    with _root_warnings_silenced():
        quantize_dynamic(
            source, target, weight_type=QuantType.QInt8, op_types_to_quantize=QUANTIZED_OPS
        )
    add_onnx_metadata(target, metadata)


@contextlib.contextmanager
def _root_warnings_silenced() -> Iterator[None]:
    """onnxruntime's quantizer warns through the root logger about every tensor it skips."""
    root = logging.getLogger()

    def only_errors(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR

    root.addFilter(only_errors)
    try:
        yield
    finally:
        root.removeFilter(only_errors)


class OnnxRunner:
    """Logits from an ONNX file with onnxruntime on the CPU."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: onnxruntime's default
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, batch: Batch) -> np.ndarray:
        feed = {name: batch[name].numpy() for name in INPUT_NAMES}
        return self.session.run(OUTPUT_NAMES, feed)[0]


# --------------------------------------------------------------------------- TorchScript

TORCHSCRIPT_EXTRA = "nlpclf_artifacts.json"


def write_torchscript(predictor: Predictor, path: Path, example: Batch) -> None:
    net = LogitsNet(predictor).eval()
    with _quiet_tracer(), torch.no_grad():
        traced = torch.jit.trace(net, _inputs(example))
        extra = {TORCHSCRIPT_EXTRA: artifacts_json(predictor)}
        torch.jit.save(traced, str(path), _extra_files=extra)


def load_torchscript(path: Path) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """The traced network and the artifacts saved beside it."""
    extra = {TORCHSCRIPT_EXTRA: ""}
    with _quiet_tracer():
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return module.eval(), json.loads(extra[TORCHSCRIPT_EXTRA])


class TorchScriptRunner:
    def __init__(self, path: Path, threads: int | None = None) -> None:
        del threads  # PyTorch's threads are set process-wide (nlpclf.inference.set_threads)
        self.module, self.artifacts = load_torchscript(path)

    @torch.inference_mode()
    def __call__(self, batch: Batch) -> np.ndarray:
        return self.module(*_inputs(batch)).float().numpy()


class TorchRunner:
    """The checkpoint's own network, as the reference the exports are checked against."""

    def __init__(self, predictor: Predictor) -> None:
        self.net = LogitsNet(predictor).eval()

    @torch.inference_mode()
    def __call__(self, batch: Batch) -> np.ndarray:
        return self.net(*_inputs(batch)).float().numpy()
