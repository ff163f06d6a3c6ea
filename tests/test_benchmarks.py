"""The benchmark suite's own parts, on generated corpora: references, the plain-loop
throughput comparison, the synthetic corpus, and the results table (the figures themselves
come from `make bench` on the real corpus)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks import accuracy, report, run
from benchmarks.common import Row, Settings, save_group
from benchmarks.pipeline import padding_ratio, padding_row
from benchmarks.references import sklearn_references, throughput_ratio
from benchmarks.synthetic import generate


@pytest.fixture
def settings(tmp_path, archive_dir) -> Settings:
    return Settings(
        quick=False,
        seeds=[1],
        protocols=["raw"],
        data_dir=str(archive_dir),
        cache_dir=str(tmp_path / "cache"),
        work_dir=tmp_path / "work",
    )


def test_sklearn_references_train_on_nlpclfs_own_training_part(settings, small_corpus):
    rows = sklearn_references(settings, "raw")
    assert [r.name for r in rows] == ["TF-IDF + LinearSVC, raw", "TF-IDF + ComplementNB, raw"]
    n_train = len(small_corpus["train"])
    for row in rows:
        # the validation part (10%, rounded up) is held out, exactly as nlpclf holds it out
        assert row.figures["train_docs"] == n_train - math.ceil(n_train * 0.1)
        assert 0.5 < row.figures["test_acc"] <= 1.0  # four separable classes: far above chance
        assert row.met is None and not row.target  # references are not judged


def test_quick_references_use_a_fifth_of_each_split(settings, small_corpus):
    settings.quick = True
    n_train = len(small_corpus["train"])
    for row in sklearn_references(settings, "raw"):
        held_in = n_train - math.ceil(n_train * 0.1)
        assert row.figures["train_docs"] == math.ceil(held_in / 5)
        assert "quick mode" in row.note


def test_throughput_ratio_times_the_same_model_in_both_loops(settings):
    row = throughput_ratio(settings, steps=9, repeats=1, extra=("data.batch_size=8",))
    figures = row.figures
    assert figures["nlpclf_samples_per_s"] > 0 and figures["plain_samples_per_s"] > 0
    ratio = figures["nlpclf_samples_per_s"] / figures["plain_samples_per_s"]
    assert figures["ratio"] == pytest.approx(ratio, rel=0.05, abs=0.01)  # figures are rounded
    assert row.met == (figures["ratio"] >= 0.97)


def test_padding_ratio_counts_each_batch_padded_to_its_longest():
    lengths = [1, 3, 2, 2]
    assert padding_ratio(lengths, [0, 1, 2, 3], batch_size=2) == pytest.approx((6 + 4) / 8)
    assert padding_ratio(lengths, [0, 2, 3, 1], batch_size=2) == pytest.approx((4 + 6) / 8)
    assert padding_ratio(lengths, [1, 2, 3, 0], batch_size=3) == pytest.approx((9 + 1) / 8)


def test_padding_row_measures_the_datamodules_own_training_order(settings, small_corpus):
    row = padding_row(settings, extra=("data.batch_size=8",))  # 4+ batches: grouping applies
    figures = row.figures
    assert 1.0 <= figures["length_grouped"] < figures["random"]  # grouping removes padding
    assert f"{len(small_corpus['train']) - math.ceil(len(small_corpus['train']) * 0.1):,}" in (
        row.note
    )


def test_synthetic_corpus_is_newsgroup_like_and_loads_as_files(tmp_path):
    from nlpclf.data import FileSource, TextDataModule

    generate(tmp_path / "train.parquet", 600, seed=0)
    generate(tmp_path / "test.parquet", 100, seed=1)
    source = FileSource(str(tmp_path / "train.parquet"), str(tmp_path / "test.parquet"))
    datamodule = TextDataModule(source, str(tmp_path / "cache"), max_length=64)
    datamodule.prepare_data()
    texts = datamodule.splits["train"]["text"]
    assert datamodule.num_classes == 20
    assert texts[0].startswith("From: user")
    mean_chars = sum(map(len, texts)) / len(texts)
    assert 1200 < mean_chars < 3000  # 20 Newsgroups averages about 1,900
    phases = {"source", "read", "protocol and split", "vocabulary", "tokenize"}
    assert set(datamodule.timings) == phases  # the Parquet import counts as "source"


def row(name: str, met: bool | None, **figures) -> Row:
    return Row("accuracy", name, figures, "python -m nlpclf.train", target=">= 0.9", met=met)


def test_results_table_names_missed_targets_and_keeps_the_readme_prose(tmp_path):
    groups = [
        {
            "group": "resnet",
            "mode": "full",
            "finished": "now",
            "seconds": 1.0,
            "environment": {"cpu": "cpu", "cpu_count": 2, "packages": {}},
            "rows": [
                row("resnet, raw", False, test_acc_mean=0.8512).__dict__,
                row("rnn, raw", True, test_acc_mean=0.91).__dict__,
            ],
        }
    ]
    table = report.render(groups)
    assert "| resnet, raw | test_acc_mean 0.8512 | >= 0.9 | **not met** |" in table
    assert "| rnn, raw | test_acc_mean 0.91 | >= 0.9 | met |" in table
    # a row of the tables that nothing measured is listed, not left out
    assert "| rnn, clean |  | >= 0.74 | **not measured** | `make bench MODEL=rnn` |" in table
    assert "| accuracy | resnet, raw |  |" not in table  # measured above: not listed twice
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.START}\nold table\n{report.END}\noutro\n")
    report.splice_readme(readme, table)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n")
    assert "old table" not in text and "**not met**" in text


def test_peak_memory_of_a_probe_is_its_own_not_its_parents():
    parent = bytearray(b"\x01") * (512 * 2**20)  # the runner holds 512 MB when it starts a probe
    code = "from benchmarks.common import peak_rss_mb; print(peak_rss_mb())"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert float(out.stdout) < 400 and len(parent) > 0


def test_saved_results_record_the_environment(tmp_path, monkeypatch):
    monkeypatch.setattr(Settings, "results_dir", property(lambda self: tmp_path))
    settings = Settings(True, [1], ["raw"], "", "", tmp_path)
    path = save_group(settings, "pipeline", [row("x", None, seconds=1.5)], 2.0)
    saved = json.loads(path.read_text())
    assert saved["mode"] == "quick" and saved["rows"][0]["figures"] == {"seconds": 1.5}
    for key in ("git_commit", "packages", "cpu", "cpu_count", "python"):
        assert key in saved["environment"]
    assert saved["environment"]["packages"]["torch"]


def test_accuracy_summary_judges_the_mean_over_seeds():
    runs = [
        {"seed": s, "metrics": {"test/acc": a, "test/f1_macro": a - 0.01, "val/acc_best": 0.9,
                                "time/fit_seconds": 540.0}, "checkpoint": f"c{s}",
         "command": f"python -m nlpclf.train experiment=newsgroups_resnet seed={s}"}
        for s, a in ((1, 0.87), (2, 0.89), (3, 0.88))
    ]  # fmt: skip
    summary = accuracy.summarize("resnet", "raw", runs, quick=False)
    assert summary.figures["test_acc_mean"] == pytest.approx(0.88)
    assert summary.figures["test_acc_std"] == pytest.approx(0.01)
    assert summary.met is True and "seed={1,2,3}" in summary.command
    fast = accuracy.fast_resnet_row(runs, quick=False)
    assert fast.met is True and fast.figures["train_minutes_max"] == 9.0
    runs[0]["metrics"]["time/fit_seconds"] = 700.0  # one run over ten minutes
    assert accuracy.fast_resnet_row(runs, quick=False).met is False
    assert accuracy.summarize("resnet", "raw", runs, quick=True).met is None


def test_gpu_row_divides_the_fit_time_by_the_experiments_epochs(settings):
    runs = [
        {"seed": 1, "metrics": {"test/acc": 0.9, "time/fit_seconds": 400.0,
                                "best_checkpoint_epoch": 3},
         "command": "python -m nlpclf.train experiment=newsgroups_minilm seed=1"}
    ]  # fmt: skip
    row = accuracy.gpu_epoch_row(settings, "raw", runs)
    assert row.section == "gpu" and row.name.startswith("MiniLM fine-tuning, bf16")
    assert row.figures["epochs"] == 4 and row.figures["epoch_seconds"] == 100.0


def test_the_runner_refuses_unknown_groups_and_missing_data(tmp_path):
    with pytest.raises(SystemExit, match="Unknown benchmark group"):
        run.selected_groups("resnet,gpt")
    # the transformer (hours per run on a CPU) runs in `all` only when a GPU is there
    assert "transformer" not in run.selected_groups("all", gpu=False)
    assert run.selected_groups("all", gpu=True) == list(run.GROUPS)
    assert run.selected_groups("transformer") == ["transformer"]
    with pytest.raises(SystemExit, match="NLPCLF_DATA_DIR"):
        run.check_data(None)
    with pytest.raises(SystemExit, match="No 20 Newsgroups corpus"):
        run.check_data(str(tmp_path))
