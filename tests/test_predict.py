"""nlpclf.predict: every input layout, input order, bad lines, and clear errors."""

import json

import pytest

from conftest import compose_config, rewrite_checkpoint, run_module
from corpora import corpus
from nlpclf.errors import CheckpointError, ConfigError, DataError
from nlpclf.predict import predict

pytestmark = pytest.mark.slow

LABELS = ["comp.graphics", "rec.autos", "sci.space", "talk.politics.misc"]


def predict_cfg(ckpt, *overrides):
    return compose_config("predict", f"ckpt_path={ckpt}", "progress=false", *overrides)


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_text_file_keeps_order_and_reports_bad_lines(trained_run, tmp_path, capsys):
    path = tmp_path / "docs.txt"
    path.write_bytes(
        b"about sci.space space3 space7 orbit space1 space3\n"
        b"\n"
        b"about rec.autos autos2 autos5 autos9 the autos1\r\n"
        b"caf\xe9 latin-1 bytes are not UTF-8\n"
        b"   \n"
        b"about comp.graphics graphics4 graphics1 graphics4 of the graphics9\n"
    )
    out = tmp_path / "out" / "predictions.jsonl"
    summary = predict(predict_cfg(trained_run.best, f"input={path}", f"output={out}", "top_k=3"))
    assert (summary["predicted"], summary["skipped"], summary["output"]) == (3, 3, str(out))
    assert summary["documents_per_second"] > 0
    records = read_lines(out)
    assert [r["id"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[1] == {"id": 2, "error": "empty line"}
    assert records[3]["id"] == 4 and "not valid UTF-8" in records[3]["error"]
    assert records[4] == {"id": 5, "error": "empty line"}
    good = [records[i] for i in (0, 2, 5)]
    assert [r["label"] for r in good] == ["sci.space", "rec.autos", "comp.graphics"]
    for record in good:
        top = record["top_k"]
        assert len(top) == 3 and {t["label"] for t in top} <= set(LABELS)
        assert top[0] == {"label": record["label"], "probability": record["probability"]}
        assert [t["probability"] for t in top] == sorted(
            (t["probability"] for t in top), reverse=True
        )
        assert 0.25 < record["probability"] <= 1.0
    stderr = capsys.readouterr().err
    assert "skipped input 2: empty line" in stderr
    assert "skipped input 4: line is not valid UTF-8" in stderr
    assert "Predicted 3 documents" in stderr and "documents/s" in stderr


def test_jsonl_of_test_messages_scores_like_training(trained_run, tmp_path):
    """Multi-line messages in a jsonl text column, the same accuracy as the training test."""
    data = corpus(train_per_class=40, test_per_class=15)  # the test split of trained_run
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps({"body": t, "topic": g}) + "\n" for g, t in data["test"]))
    out = tmp_path / "out.jsonl"
    predict(predict_cfg(trained_run.best, f"input={path}", f"output={out}", "text_column=body"))
    records = read_lines(out)
    assert len(records) == 60
    correct = sum(r["label"] == g for r, (g, _) in zip(records, data["test"], strict=True))
    assert correct / 60 == pytest.approx(trained_run.metrics["test/acc"], abs=1e-6)


def test_csv_and_folder_inputs(trained_run, tmp_path):
    csv_path = tmp_path / "docs.csv"
    csv_path.write_text(
        'id,body\n1,"about sci.space space3 space7\norbit space1"\n2,""\n'
        "3,about rec.autos autos2 autos5 autos9\n"
    )
    out = tmp_path / "csv.jsonl"
    predict(predict_cfg(trained_run.best, f"input={csv_path}", f"output={out}", "text_column=body"))
    records = read_lines(out)
    assert [r.get("label") for r in records] == ["sci.space", None, "rec.autos"]
    assert records[1] == {"id": 2, "error": "empty 'body'"}

    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_text("about rec.autos autos2 autos5 autos9 the autos1")
    (folder / "sub" / "a.txt").write_text("about sci.space space3 space7 orbit\nspace1 space3")
    (folder / "empty.txt").write_text("")
    (folder / ".hidden").write_text("space3")
    out = tmp_path / "folder.jsonl"
    predict(predict_cfg(trained_run.best, f"input={folder}", f"output={out}", "top_k=1"))
    records = read_lines(out)
    assert [r["id"] for r in records] == ["b.txt", "empty.txt", "sub/a.txt"]
    assert records[1]["error"] == "empty file"
    assert records[0]["label"] == "rec.autos" and len(records[0]["top_k"]) == 1
    assert records[2]["label"] == "sci.space"


def test_stdin_cli_writes_only_json_lines_to_stdout(trained_run):
    result = run_module(
        "nlpclf.predict",
        f"ckpt_path={trained_run.best}",
        "input=-",
        "top_k=2",
        f"paths.log_dir={trained_run.root / 'logs'}",
        stdin=b"about sci.space space3 space7 orbit space1 space3\n\n\xff\xfe\n"
        b"about rec.autos autos2 autos5 autos9 the autos1\n",
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [r["id"] for r in records] == [1, 2, 3, 4]
    assert [r.get("label") for r in records] == ["sci.space", None, None, "rec.autos"]
    assert [len(r["top_k"]) for r in records if "label" in r] == [2, 2]
    stderr = result.stderr.decode()
    assert "skipped input 2: empty line" in stderr and "skipped input 3" in stderr


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (b"", DataError, "is empty: it holds no documents"),
        (b"\n  \n", DataError, "None of the 2 documents of the input can be classified"),
        (b"\xff\xfe\n", DataError, "None of the 1 documents"),
    ],
)
def test_empty_or_only_bad_input_is_a_clear_error(trained_run, tmp_path, content, error, message):
    (tmp_path / "docs.txt").write_bytes(content)
    with pytest.raises(error, match=message):
        predict(predict_cfg(trained_run.best, f"input={tmp_path / 'docs.txt'}"))


def test_input_errors(trained_run, tmp_path):
    for top_k in (5, 0):
        with pytest.raises(
            ConfigError,
            match=rf"top_k={top_k} is not possible: the checkpoint "
            r"'.*' has 4 classes. Use 1 <= top_k <= 4.",
        ):
            predict(predict_cfg(trained_run.best, "input=-", f"top_k={top_k}"))
    with pytest.raises(DataError, match="does not exist"):
        predict(predict_cfg(trained_run.best, f"input={tmp_path / 'nothing.txt'}"))
    with pytest.raises(ConfigError, match="Invalid threads=0: use a positive integer or null"):
        predict(predict_cfg(trained_run.best, "input=-", "threads=0"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is empty"):
        predict(predict_cfg(trained_run.best, f"input={tmp_path / 'empty'}"))
    (tmp_path / "docs.jsonl").write_text('{"body": "x"}\n{"body": "y"}\n')
    with pytest.raises(ConfigError, match=r"text column 'text'.*\['body'\].*text_column="):
        predict(predict_cfg(trained_run.best, f"input={tmp_path / 'docs.jsonl'}"))
    (tmp_path / "docs.csv").write_text("body\nx\n")
    with pytest.raises(ConfigError, match=r"no column 'text'; its columns are \['body'\]"):
        predict(predict_cfg(trained_run.best, f"input={tmp_path / 'docs.csv'}"))


def test_bad_checkpoints_get_clear_messages(trained_run, tmp_path):
    (tmp_path / "docs.txt").write_text("space3\n")
    docs = f"input={tmp_path / 'docs.txt'}"
    with pytest.raises(CheckpointError, match=r"does not exist\. Pass ckpt_path="):
        predict(predict_cfg(tmp_path / "missing.ckpt", docs))
    (tmp_path / "notes.ckpt").write_text("these are my notes, not a model")
    with pytest.raises(CheckpointError, match="is not a readable PyTorch checkpoint"):
        predict(predict_cfg(tmp_path / "notes.ckpt", docs))

    def future(checkpoint):
        checkpoint["nlpclf_artifacts"]["format_version"] = 99

    newer = rewrite_checkpoint(trained_run.best, tmp_path / "newer.ckpt", future)
    with pytest.raises(CheckpointError, match="format version 99; this nlpclf reads version 1"):
        predict(predict_cfg(newer, docs))


def test_predict_logs_to_stderr_so_stdout_carries_only_predictions():
    from hydra import compose, initialize_config_dir

    from nlpclf.utils.cli import config_dir

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("predict", ["ckpt_path=x", "input=-"], return_hydra_config=True)
    assert cfg.hydra.job_logging.handlers.console.stream == "ext://sys.stderr"
