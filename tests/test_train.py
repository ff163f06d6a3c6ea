"""End to end: the real entry point on a small separable corpus, and its artefacts."""

import json

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import run_cli
from nlpclf.artifacts import load_classifier, read_checkpoint
from nlpclf.data import PadCollator
from nlpclf.data.tokenizer import TextTokenizer
from nlpclf.errors import CheckpointError

pytestmark = pytest.mark.slow


@pytest.fixture
def trained(trained_run):
    """The session's one training run (see conftest.trained_run)."""
    return trained_run.run, trained_run.metrics


def test_training_reaches_well_above_chance(trained):
    _, metrics = trained
    assert metrics["test/acc"] >= 0.8  # four classes: chance is 0.25
    assert metrics["test/f1_macro"] >= 0.75
    assert metrics["val/acc_best"] >= metrics["val/acc"] - 1e-6


def test_run_folder_holds_checkpoints_events_and_metrics(trained):
    run, metrics = trained
    ckpts = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in ckpts and any(n.startswith("epoch_") for n in ckpts)
    # last.ckpt follows training to its end (6 epochs), whatever the best epoch was
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 5
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["test/acc"] == pytest.approx(metrics["test/acc"])
    assert saved["time/fit_seconds"] > 0  # Lightning's Timer: training + validation epochs
    events = list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    acc = EventAccumulator(str(run / "tensorboard")).Reload()
    scalars = set(acc.Tags()["scalars"])
    assert {"train/loss_step", "val/acc", "val/f1_macro", "test/acc"} <= scalars
    assert "hp/test_acc" in scalars  # the HParams tab's final metric, real value
    assert acc.Scalars("hp/test_acc")[-1].value == pytest.approx(metrics["test/acc"], abs=1e-6)


def test_best_checkpoint_is_safe_and_self_contained(trained):
    run, _ = trained
    best = next((run / "checkpoints").glob("epoch_*.ckpt"))
    raw = torch.load(best, map_location="cpu", weights_only=True)  # no pickled objects
    assert all(
        isinstance(v, (int, float, str, bool, list, dict, type(None)))
        for v in raw["hyper_parameters"].values()
    )
    model = load_classifier(best)
    art = model.artifacts
    assert art["label_names"] == ["comp.graphics", "rec.autos", "sci.space", "talk.politics.misc"]
    tokenizer = TextTokenizer.from_artifact(art)
    # the generated corpus names each group in its subject lines, as probes do here
    texts = [
        "about sci.space space3 space7 orbit space1 space3",
        "about rec.autos autos2 autos5 autos9 the autos1",
    ]
    batch = PadCollator(tokenizer.pad_id)(
        [{"input_ids": ids} for ids in tokenizer.encode_batch(texts)]
    )
    with torch.no_grad():
        predicted = model(batch["input_ids"], batch["attention_mask"]).argmax(-1).tolist()
    assert [art["label_names"][i] for i in predicted] == ["sci.space", "rec.autos"]


def test_a_foreign_checkpoint_is_refused_clearly(tmp_path):
    (tmp_path / "x.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        read_checkpoint(tmp_path / "x.ckpt")

    class Evil:
        def __reduce__(self):
            return (print, ("executed!",))

    torch.save({"state_dict": {}, "evil": Evil()}, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="refused: it carries pickled objects"):
        read_checkpoint(tmp_path / "evil.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="not written by nlpclf"):
        read_checkpoint(tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "missing.ckpt")


# --------------------------------------------------------------------------- the CLI


def test_cli_trains_from_any_directory_into_hydra_run_folder(tmp_path, archive_dir):
    import conftest

    logs = tmp_path / "logs"
    result = run_cli(
        *conftest.TINY,
        "debug=fdr",
        f"paths.data_dir={archive_dir}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"paths.log_dir={logs}",
        cwd=tmp_path,
    )  # not the repository: configs must still be found
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((logs / "debug" / "runs").iterdir())
    assert len(runs) == 1
    assert (runs[0] / ".hydra" / "config.yaml").is_file()
    assert (runs[0] / "metrics.json").is_file()
    assert "test/acc" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["paths.data_dir={tmp}/none", "data.source.download=false"],
            "The 20 Newsgroups corpus was not found in data directory",
        ),
        (["data.max_length=-5"], "Invalid data.max_length=-5: expected a positive integer"),
        (["data.protocol=tidy"], "Unknown data.protocol 'tidy'"),
        (["model=nosuchmodel"], "Could not find 'model/nosuchmodel'"),
        (["data=files"], "The setting data.source.train_file has no value"),
        (["data.source.train_file=x.csv"], "Could not override 'data.source.train_file'"),
    ],
)
def test_cli_bad_input_gets_a_clear_message_not_a_traceback(tmp_path, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    result = run_cli(
        *args,
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"paths.log_dir={tmp_path / 'logs'}",
        "print_config=false",
    )
    assert result.returncode != 0
    assert message in result.stderr.replace("\n", " ")
    assert "Traceback" not in result.stderr
