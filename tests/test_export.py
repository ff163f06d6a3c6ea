"""nlpclf.export: ONNX and TorchScript checked against PyTorch, int8, and atomic writes."""

import json
import sys

import numpy as np
import onnxruntime
import pytest
import torch

from conftest import compose_config, run_module
from nlpclf.errors import ConfigError, ExportError
from nlpclf.export import export
from nlpclf.exporters import METADATA_KEY, load_torchscript, read_onnx_metadata
from nlpclf.inference import Predictor

pytestmark = pytest.mark.slow


def export_cfg(run, *overrides):
    return compose_config("export", f"ckpt_path={run.best}", *run.data_overrides(), *overrides)


def test_onnx_matches_pytorch_on_any_batch_and_length_and_quantizes(trained_run, tmp_path):
    result = export(export_cfg(trained_run, f"output_dir={tmp_path}", "quantize=int8"))
    assert result["documents"] == 60
    assert 0 <= result["max_abs_logit_diff"] <= 1e-4
    onnx_path, int8_path = (
        tmp_path / f"{trained_run.best.stem}.onnx",
        tmp_path / f"{trained_run.best.stem}.int8.onnx",
    )
    assert result["files"] == [str(onnx_path), str(int8_path)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [int8_path.name, onnx_path.name]

    pytorch, float_row, int8_row = result["models"]
    assert [r["model"] for r in result["models"]] == ["pytorch", "onnx", "onnx int8"]
    assert float_row["accuracy"] == pytest.approx(pytorch["accuracy"])
    assert float_row["agreement_with_pytorch"] == 1.0
    assert int8_row["size_mb"] < float_row["size_mb"]
    assert 0.5 <= int8_row["agreement_with_pytorch"] <= 1.0
    assert all(r["documents_per_second"] > 0 for r in result["models"])

    # dynamic axes: batch sizes and lengths the trace never saw
    predictor = Predictor.from_checkpoint(trained_run.best)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert [i.shape for i in session.get_inputs()] == [["batch", "sequence"]] * 2
    generator = torch.Generator().manual_seed(0)
    for batch, length in [(1, 1), (3, 5), (9, 200)]:
        ids = torch.randint(2, predictor.tokenizer.vocab_size, (batch, length), generator=generator)
        mask = torch.ones_like(ids)
        mask[0, length // 2 + 1 :] = 0
        with torch.no_grad():
            expected = predictor.model(ids, mask).numpy()
        got = session.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        assert np.abs(got[0] - expected).max() <= 1e-4

    for path in (onnx_path, int8_path):  # self-contained, like the checkpoint
        artifacts = json.loads(read_onnx_metadata(path)[METADATA_KEY])
        assert artifacts["label_names"] == predictor.label_names
        assert artifacts["format_version"] == 1 and "tokenizer_json" in artifacts


def test_torchscript_matches_pytorch(trained_run, tmp_path):
    result = export(export_cfg(trained_run, f"output_dir={tmp_path}", "format=torchscript"))
    assert result["max_abs_logit_diff"] <= 1e-4
    module, artifacts = load_torchscript(tmp_path / f"{trained_run.best.stem}.torchscript.pt")
    predictor = Predictor.from_checkpoint(trained_run.best)
    assert artifacts["label_names"] == predictor.label_names
    ids = torch.randint(2, predictor.tokenizer.vocab_size, (5, 77))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        assert torch.allclose(module(ids, mask), predictor.model(ids, mask), atol=1e-5)


def test_a_failed_check_keeps_nothing_and_replaces_nothing(trained_run, tmp_path):
    target = tmp_path / f"{trained_run.best.stem}.onnx"
    target.write_bytes(b"the previous, good export")
    cfg = export_cfg(trained_run, f"output_dir={tmp_path}", "tolerance=-1")
    with pytest.raises(ExportError, match=r"differs from PyTorch by up to .* nothing was written"):
        export(cfg)
    assert target.read_bytes() == b"the previous, good export"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no partial files


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["format=tflite"], "Unknown format='tflite'. Choose one of"),
        (["format=torchscript", "quantize=int8"], "quantize='int8' is not available for format"),
        (["quantize=int4"], "quantize='int4' is not available"),
    ],
)
def test_bad_options_are_config_errors(trained_run, overrides, message):
    with pytest.raises(ConfigError, match=message):
        export(export_cfg(trained_run, *overrides))


def test_missing_onnx_packages_are_named(trained_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"needs the packages onnx and onnxruntime.*\[export\]"):
        export(export_cfg(trained_run))


def test_cli_exports_beside_the_checkpoint(trained_run, tmp_path):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(trained_run.best.read_bytes())
    result = run_module(
        "nlpclf.export", f"ckpt_path={ckpt}", *trained_run.data_overrides(), "verify_samples=20"
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert "max |logit difference|" in result.stdout.decode()
    assert (tmp_path / "model.onnx").is_file()
