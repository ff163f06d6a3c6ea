"""Interrupted runs resume to the same result as uninterrupted ones, in the same folder."""

import json
from pathlib import Path

import pytest
import torch

import conftest
from conftest import run_cli
from corpora import corpus, write_archive

pytestmark = pytest.mark.slow

# 4 classes x 24 training messages: 87 train after validation, batch 16 -> 6 steps per epoch
SETTINGS = [
    *conftest.TINY,
    "trainer.max_epochs=3",
    "trainer.deterministic=true",
    "callbacks.early_stopping=null",
    "data.batch_size=16",
    "task_name=resume",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resume-data")
    write_archive(root / "data", corpus(train_per_class=24, test_per_class=8, seed=3))
    return root / "data"


def run(log_dir: Path, data_dir: Path, *extra: str):
    return run_cli(
        *SETTINGS,
        f"paths.log_dir={log_dir}",
        f"paths.data_dir={data_dir}",
        f"paths.cache_dir={log_dir.parent / 'cache'}",
        *extra,
    )


def only_run(log_dir: Path) -> Path:
    runs = list((log_dir / "resume" / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, data_dir) -> dict:
    log_dir = tmp_path_factory.mktemp("straight") / "logs"
    result = run(log_dir, data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((only_run(log_dir) / "metrics.json").read_text())


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_resume_after_interruption_matches_an_uninterrupted_run(
    tmp_path, data_dir, uninterrupted, signal_name
):
    log_dir = tmp_path / "logs"
    # step 9 lies in the middle of the second epoch (6 steps per epoch)
    killed = run(
        log_dir,
        data_dir,
        "+callbacks.interrupt._target_=interrupt.InterruptAt",
        "+callbacks.interrupt.step=9",
        f"+callbacks.interrupt.signal_name={signal_name}",
    )
    assert killed.returncode == (143 if signal_name == "SIGTERM" else -9)
    if signal_name == "SIGTERM":
        assert "Resume it with ckpt_path=last" in killed.stderr
    folder = only_run(log_dir)
    assert not (folder / "metrics.json").exists()  # it really stopped before the end
    saved = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["epoch"] == 0  # the last good checkpoint: end of the first epoch

    resumed = run(log_dir, data_dir, "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert only_run(log_dir) == folder  # same run folder, no second one
    final = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)
    assert final["epoch"] == 2  # last.ckpt kept current, not a last-v1.ckpt beside it
    assert not list((folder / "checkpoints").glob("last-v*.ckpt"))
    # the original run's composed config is kept; the resume's sits beside it
    assert "ckpt_path" not in (folder / ".hydra" / "overrides.yaml").read_text()
    assert list((folder / ".hydra").glob("resumed-*/overrides.yaml"))
    metrics = json.loads((folder / "metrics.json").read_text())
    for name in (
        "val/acc",
        "val/acc_best",
        "val/loss",
        "test/acc",
        "test/loss",
        "train/loss_epoch",
    ):
        assert metrics[name] == pytest.approx(uninterrupted[name], abs=1e-6), name


def test_resume_errors_name_the_fix(tmp_path, data_dir):
    log_dir = tmp_path / "logs"
    result = run(log_dir, data_dir, "ckpt_path=last")
    assert result.returncode == 2
    assert "ckpt_path=last found no earlier run of task 'resume'" in result.stderr
    result = run(log_dir, data_dir, f"ckpt_path={tmp_path}/nope.ckpt")
    assert result.returncode == 2 and "does not exist" in " ".join(result.stderr.split())


def test_a_checkpoint_of_another_configuration_is_refused(tmp_path, data_dir):
    log_dir = tmp_path / "logs"
    first = run(log_dir, data_dir, "trainer.max_epochs=1")
    assert first.returncode == 0, first.stderr[-2000:]
    last = only_run(log_dir) / "checkpoints" / "last.ckpt"
    other = run(
        log_dir, data_dir, f"ckpt_path={last}", "model.encoder.channels=48", "data.max_length=32"
    )
    assert other.returncode == 2
    message = " ".join(other.stderr.split())
    assert "belongs to another model or data configuration" in message
    assert "model.encoder.channels: 32 in the checkpoint, 48 now" in message
    assert "data.max_length: 64 in the checkpoint, 32 now" in message
    assert "Traceback" not in other.stderr


def test_a_failed_checkpoint_write_leaves_the_last_good_file(tmp_path, monkeypatch):
    """Lightning writes checkpoints atomically: a failure mid-save keeps the old file."""
    from lightning.fabric.utilities import cloud_io

    path = tmp_path / "last.ckpt"
    cloud_io._atomic_save({"good": torch.ones(3)}, path)

    def dying_save(obj, f, *args, **kwargs):
        f.write(b"partial bytes")
        raise KeyboardInterrupt("process killed while writing")

    monkeypatch.setattr(cloud_io.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        cloud_io._atomic_save({"new": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["good"], torch.ones(3))
