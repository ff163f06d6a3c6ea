import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from nlpclf.data import NewsgroupsSource, PadCollator, TextDataModule
from nlpclf.errors import ConfigError, DataError


def make_dm(archive_dir, tmp_path, **kwargs) -> TextDataModule:
    options = {"max_length": 32, "batch_size": 8, "vocab_size": 500, "min_frequency": 1}
    options.update(kwargs)
    source = NewsgroupsSource(str(archive_dir), download=False)
    return TextDataModule(source, cache_dir=str(tmp_path / "cache"), **options)


def test_splits_sizes_and_stratification(archive_dir, tmp_path, small_corpus):
    dm = make_dm(archive_dir, tmp_path, val_fraction=0.2)
    dm.prepare_data()
    dm.setup("fit")
    n_train = len(small_corpus["train"])
    assert len(dm.splits["validation"]) == round(n_train * 0.2)
    assert len(dm.splits["train"]) + len(dm.splits["validation"]) == n_train
    assert len(dm.splits["test"]) == len(small_corpus["test"])
    # stratified: every class keeps its share in validation (30 per class * 0.2 = 6)
    assert set(Counter(dm.splits["validation"]["label"]).values()) == {6}
    assert dm.label_names == sorted({g for g, _ in small_corpus["train"]})


def test_latest_validation_holds_each_classs_last_messages(archive_dir, tmp_path, small_corpus):
    dm = make_dm(archive_dir, tmp_path, val_fraction=0.2, val_split="latest")
    dm.setup()
    # the fixture numbers each split's files in corpus order: the last 6 of each class are newest
    by_group: dict[str, list[str]] = {}
    for group, text in small_corpus["train"]:
        by_group.setdefault(group, []).append(text)
    expected = {text for texts in by_group.values() for text in texts[-6:]}
    assert set(dm.splits["validation"]["text"]) == expected
    assert not expected & set(dm.splits["train"]["text"])
    assert len(dm.splits["train"]) == len(small_corpus["train"]) - len(expected)
    random = make_dm(archive_dir, tmp_path / "random", val_fraction=0.2)
    random.setup()
    assert set(random.splits["validation"]["text"]) != expected


def test_latest_split_keeps_a_training_example_of_every_class():
    from nlpclf.data.datamodule import latest_per_class

    train, val = latest_per_class(np.array([0, 1, 0, 1, 1, 0, 1]), 0.3, ["a", "b"])
    assert train.tolist() == [0, 1, 2, 3] and val.tolist() == [4, 5, 6]
    with pytest.raises(DataError, match=r"val_fraction=0.6 holds out all 2 .* class 'a'"):
        latest_per_class(np.array([0, 1, 0, 1, 1]), 0.6, ["a", "b"])


def test_no_test_leakage_and_validation_disjoint_from_train(archive_dir, tmp_path, small_corpus):
    dm = make_dm(archive_dir, tmp_path)
    dm.setup()
    train, val, test = (set(dm.splits[s]["text"]) for s in ("train", "validation", "test"))
    assert not train & val and not train & test and not val & test
    assert test == {text for _, text in small_corpus["test"]}


def test_tokenizer_learns_from_the_training_split_only(tmp_path, small_corpus):
    from corpora import write_archive

    data = {k: list(v) for k, v in small_corpus.items()}
    group = data["test"][0][0]
    data["test"].append((group, "zzztestonlyword appears only in test"))
    dm = make_dm(write_archive(tmp_path / "d", data).parent, tmp_path)
    dm.setup()
    vocab = dm.tokenizer.tokenizer.get_vocab()
    assert "zzztestonlyword" not in vocab
    val_only = set(" ".join(dm.splits["validation"]["text"]).lower().split()) - set(
        " ".join(dm.splits["train"]["text"]).lower().split()
    )
    assert val_only and not (val_only & set(vocab)), "validation words leaked into the vocab"
    assert "space3" in vocab  # a topic word from training


def test_truncation_and_dynamic_padding(archive_dir, tmp_path):
    dm = make_dm(archive_dir, tmp_path, max_length=16)
    dm.setup()
    assert max(len(ids) for ids in dm.splits["train"]["input_ids"]) == 16
    batch = next(iter(dm.train_dataloader()))
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    assert batch["input_ids"].shape[0] == 8 and batch["labels"].shape == (8,)
    collate = PadCollator(pad_id=0)
    short = collate([{"input_ids": [5, 6], "label": 1}, {"input_ids": [7], "label": 0}])
    assert short["input_ids"].tolist() == [[5, 6], [7, 0]]
    assert short["attention_mask"].tolist() == [[1, 1], [1, 0]]


def test_second_run_reuses_the_arrow_cache(archive_dir, tmp_path):
    first = make_dm(archive_dir, tmp_path)
    first.prepare_data()
    files_first = {s: [f["filename"] for f in ds.cache_files] for s, ds in first.splits.items()}
    # a new process (as a second run is) must find the very same Arrow files
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[3]);"
        "from test_datamodule import make_dm; from pathlib import Path;"
        "dm = make_dm(Path(sys.argv[1]), Path(sys.argv[2])); dm.setup();"
        "print(json.dumps({s: [f['filename'] for f in ds.cache_files]"
        " for s, ds in dm.splits.items()}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(archive_dir), str(tmp_path), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    files_second = json.loads(out.stdout.strip().splitlines()[-1])
    assert files_first == files_second  # the same Arrow files, memory-mapped, not rebuilt
    assert all(files_first.values())


def test_changing_max_length_rebuilds_the_tokenized_cache(archive_dir, tmp_path):
    a = make_dm(archive_dir, tmp_path, max_length=8)
    a.setup()
    b = make_dm(archive_dir, tmp_path, max_length=16)
    b.setup()
    assert a.splits["train"].cache_files != b.splits["train"].cache_files
    assert max(map(len, b.splits["train"]["input_ids"])) == 16


def test_clean_protocol_removes_headers_before_tokenizing(archive_dir, tmp_path):
    dm = make_dm(archive_dir, tmp_path, protocol="clean")
    dm.setup()
    assert not any("Subject:" in t for t in dm.splits["train"]["text"])
    assert "organization" not in dm.tokenizer.tokenizer.get_vocab()


def test_artifacts_are_plain_data(archive_dir, tmp_path):
    dm = make_dm(archive_dir, tmp_path)
    dm.setup()
    art = dm.artifacts()
    assert set(art) >= {"tokenizer_json", "pad_id", "protocol", "max_length", "label_names"}
    assert all(isinstance(v, (str, int, list, dict)) for v in art.values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_length": -5}, r"Invalid data.max_length=-5: expected a positive integer"),
        ({"batch_size": 0}, r"Invalid data.batch_size=0"),
        ({"val_fraction": 1.5}, r"Invalid data.val_fraction=1.5"),
        ({"protocol": "tidy"}, r"Unknown data.protocol 'tidy'"),
        ({"vocab_size": 1}, r"Invalid data.vocab_size=1"),
        ({"group_by_length": "maybe"}, r"data.group_by_length='maybe': expected true or false"),
        ({"val_split": "newest"}, r"data.val_split='newest': expected random or latest"),
    ],
)
def test_invalid_values_are_refused_with_the_fix(archive_dir, tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make_dm(archive_dir, tmp_path, **kwargs)


def test_too_few_examples_for_a_stratified_split(tmp_path):
    from corpora import corpus, write_archive

    archive = write_archive(tmp_path / "d", corpus(train_per_class=1, test_per_class=1))
    with pytest.raises(DataError, match="fewer than 2 training examples"):
        make_dm(archive.parent, tmp_path).setup()


def test_collator_returns_long_tensors():
    batch = PadCollator(pad_id=3)([{"input_ids": [1], "label": 2}])
    assert batch["input_ids"].dtype == torch.long and batch["labels"].dtype == torch.long


def test_reading_only_the_head_of_long_texts_gives_the_whole_texts_tokens():
    """encode_batch cuts long texts before tokenizing; the ids must equal the whole text's."""
    from datasets import Dataset

    from nlpclf.data.tokenizer import CHARS_PER_TOKEN, TokenizerSpec, train_word_tokenizer

    words = ["alpha", "beta,", "gamma!", "Ünïcödé", "ﬁne", "delta...", "x@y.org"]
    train = Dataset.from_dict({"text": [" ".join(words * 3)] * 4})
    tokenizer = train_word_tokenizer(train, TokenizerSpec(vocab_size=100, min_frequency=1))
    limit = 20
    cut = limit * CHARS_PER_TOKEN
    texts = [
        " ".join(words * 40),  # many tokens: the head suffices
        "x" * (cut + 50) + " alpha",  # one giant token: the head holds too few, redo it whole
        "beta " * (cut // 5 - 1) + "gammaﬁ" * 30,  # a token straddles the cut
        "Ünïcödé, " * 100,
        "short text",
        "",
        None,
    ]
    expected = [
        e.ids for e in tokenizer.truncate_to(limit).tokenizer.encode_batch([t or "" for t in texts])
    ]
    unk = tokenizer.tokenizer.token_to_id("[UNK]")
    assert tokenizer.encode_batch(texts) == [ids or [unk] for ids in expected]
    assert all(len(ids) <= limit for ids in tokenizer.encode_batch(texts))
