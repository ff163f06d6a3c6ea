"""nlpclf.eval: metrics against scikit-learn, the training run's own test score, ensembles."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from conftest import compose_config, rewrite_checkpoint, run_module
from nlpclf.errors import CheckpointError, DataError
from nlpclf.eval import evaluate
from nlpclf.evaluation import classification_report
from nlpclf.inference import Predictor

pytestmark = pytest.mark.slow


def eval_cfg(run, *overrides):
    return compose_config("eval", *run.data_overrides(), "progress=false", *overrides)


def test_classification_report_matches_scikit_learn():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (300,), generator=generator)
    logits = torch.randn(300, 5, generator=generator) + 1.5 * torch.nn.functional.one_hot(labels)
    names = [f"class{i}" for i in range(5)]
    report = classification_report(logits, labels, names)
    preds = logits.argmax(-1).numpy()
    y = labels.numpy()
    assert report.accuracy == pytest.approx(float((preds == y).mean()), abs=1e-6)
    assert report.f1_macro == pytest.approx(f1_score(y, preds, average="macro"), abs=1e-6)
    assert report.f1_micro == pytest.approx(f1_score(y, preds, average="micro"), abs=1e-6)
    precision, recall, f1, support = precision_recall_fscore_support(y, preds)
    assert [c["precision"] for c in report.per_class] == pytest.approx(precision, abs=1e-6)
    assert [c["recall"] for c in report.per_class] == pytest.approx(recall, abs=1e-6)
    assert [c["f1"] for c in report.per_class] == pytest.approx(f1, abs=1e-6)
    assert [c["support"] for c in report.per_class] == support.tolist()
    matrix = confusion_matrix(y, preds)
    assert report.confusion_matrix == matrix.tolist()
    worst = report.most_confused(3)
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    assert [p["count"] for p in worst] == sorted(off.flatten().tolist(), reverse=True)[:3]
    first = worst[0]
    assert matrix[names.index(first["true"]), names.index(first["predicted"])] == first["count"]


def test_eval_reproduces_the_test_score_training_printed(trained_run, tmp_path):
    best = trained_run.best
    result = evaluate(eval_cfg(trained_run, f"ckpt_path={best}", f"output_dir={tmp_path}"))
    scores = result["models"][best.name]
    assert result["num_examples"] == 60
    assert scores["accuracy"] == pytest.approx(trained_run.metrics["test/acc"], abs=1e-6)
    assert scores["f1_macro"] == pytest.approx(trained_run.metrics["test/f1_macro"], abs=1e-6)
    assert sum(c["support"] for c in scores["per_class"]) == 60
    # ... through the folded embedding + region convolution of the residual CNN
    assert Predictor.from_checkpoint(best).model.encoder.folded is not None

    files = result["files"]
    written = json.loads(Path(files["json"]).read_text())
    assert written["models"][best.name]["accuracy"] == pytest.approx(scores["accuracy"])
    markdown = Path(files["markdown"]).read_text()
    assert "| comp.graphics |" in markdown and "## Most confused pairs" in markdown
    assert f"| {best.name} | {scores['accuracy']:.4f} |" in markdown
    assert Path(files["confusion_matrix"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.part"))


def perturbed_copy(run, target):
    """A second, different member: the same network with a shifted head."""

    def edit(checkpoint):
        state = checkpoint["state_dict"]
        bias = next(k for k in state if k.startswith("head.") and k.endswith("bias"))
        state[bias] = state[bias] + torch.tensor([0.6, -0.2, 0.0, -0.4])

    return rewrite_checkpoint(run.best, target, edit)


def test_ensemble_averages_member_probabilities_and_reports_each(trained_run, tmp_path):
    other = perturbed_copy(trained_run, tmp_path / "other" / "shifted.ckpt")
    cfg = eval_cfg(trained_run, f"ckpt_path=[{trained_run.best},{other}]", f"output_dir={tmp_path}")
    result = evaluate(cfg)
    assert list(result["models"]) == [trained_run.best.name, "shifted.ckpt", "ensemble"]
    assert result["primary"] == "ensemble"

    from nlpclf.data.labeled import labeled_split_from_config

    members = [Predictor.from_checkpoint(p) for p in (trained_run.best, other)]
    texts, labels = labeled_split_from_config(cfg.data, "test", members[0].label_names)
    probs = [m.probabilities(texts) for m in members]
    for name, member in zip(result["models"], probs, strict=False):
        expected = classification_report(member, labels, members[0].label_names)
        assert result["models"][name]["confusion_matrix"] == expected.confusion_matrix
    ensemble = classification_report((probs[0] + probs[1]) / 2, labels, members[0].label_names)
    assert result["models"]["ensemble"]["confusion_matrix"] == ensemble.confusion_matrix
    # the three really differ, so the ensemble row is neither member's copy
    matrices = [m["confusion_matrix"] for m in result["models"].values()]
    assert len({json.dumps(m) for m in matrices}) == 3
    assert (tmp_path / "eval-ensemble-test.json").is_file()
    assert (tmp_path / "eval-ensemble-test-confusion.png").is_file()


def test_ensemble_members_must_share_label_names(trained_run, tmp_path):
    def rename(checkpoint):
        names = checkpoint["nlpclf_artifacts"]["label_names"]
        checkpoint["nlpclf_artifacts"]["label_names"] = names[::-1]
        checkpoint["hyper_parameters"]["label_names"] = names[::-1]

    other = rewrite_checkpoint(trained_run.best, tmp_path / "reversed.ckpt", rename)
    cfg = eval_cfg(trained_run, f"ckpt_path=[{trained_run.best},{other}]")
    with pytest.raises(CheckpointError, match="have different label names"):
        evaluate(cfg)


def test_a_corpus_with_unknown_classes_is_refused(trained_run, tmp_path):
    from corpora import corpus, write_table

    files = write_table(tmp_path / "t", corpus(4, 2, groups=["x.one", "y.two"]), "csv")
    cfg = eval_cfg(
        trained_run,
        f"ckpt_path={trained_run.best}",
        "data=files",
        f"data.source.train_file={files['train']}",
        f"data.source.test_file={files['test']}",
    )
    with pytest.raises(DataError, match="classes the checkpoint was not trained on"):
        evaluate(cfg)


def test_cli_writes_reports_beside_the_checkpoint(trained_run, tmp_path):
    ckpt = tmp_path / "models" / "model.ckpt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(trained_run.best.read_bytes())
    result = run_module(
        "nlpclf.eval", f"ckpt_path={ckpt}", *trained_run.data_overrides(), "progress=false"
    )
    stdout = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert "Per class" in stdout and "talk.politics.misc" in stdout
    for name in ("eval-model-test.json", "eval-model-test.md", "eval-model-test-confusion.png"):
        assert (ckpt.parent / name).is_file(), name
