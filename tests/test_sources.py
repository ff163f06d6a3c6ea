import tarfile

import pytest
from datasets import ClassLabel

from corpora import GROUPS, corpus, write_archive, write_folder, write_table
from nlpclf.data.sources import FileSource, HubSource, NewsgroupsSource, decode
from nlpclf.errors import DataError


def _check(splits, data):
    assert set(splits) == {"train", "test"}
    assert splits["train"].column_names == ["text", "label"]
    assert isinstance(splits["train"].features["label"], ClassLabel)
    assert splits["train"].features["label"].names == sorted(GROUPS)
    for split in ("train", "test"):
        got = sorted(zip(splits[split]["label"], splits[split]["text"], strict=True))
        names = splits[split].features["label"].names
        expected = sorted((names.index(group), text) for group, text in data[split])
        assert got == expected


@pytest.mark.parametrize("layout", ["archive", "folder"])
def test_newsgroups_layouts_read_every_message_with_its_group(tmp_path, small_corpus, layout):
    data_dir = tmp_path / "data"
    (write_archive if layout == "archive" else write_folder)(data_dir, small_corpus)
    splits = NewsgroupsSource(str(data_dir), download=False).load(tmp_path / "cache")
    _check(splits, small_corpus)


@pytest.mark.parametrize("layout", ["archive", "folder"])
def test_newsgroups_rows_come_in_article_order(tmp_path, layout):
    # files named 100, 9, 10: neither the archive's nor the names' sort order is the arrival
    staging = tmp_path / "staging"
    for split in ("train", "test"):
        for group in ("alt.a", "sci.b"):
            folder = staging / f"20news-bydate-{split}" / group
            folder.mkdir(parents=True)
            for number in (100, 9, 10):
                (folder / str(number)).write_text(f"{group} message {number}")
    data_dir = staging
    if layout == "archive":
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        with tarfile.open(data_dir / "20news-bydate.tar.gz", "w:gz") as tar:
            for split in ("train", "test"):
                for group in ("alt.a", "sci.b"):
                    for number in (100, 9, 10):
                        name = f"20news-bydate-{split}/{group}/{number}"
                        tar.add(staging / name, arcname=name)
    splits = NewsgroupsSource(str(data_dir), download=False).load(tmp_path / "cache")
    for split in ("train", "test"):
        texts = [t for t in splits[split]["text"] if t.startswith("alt.a")]
        assert texts == [f"alt.a message {n}" for n in (9, 10, 100)]


def test_archive_path_itself_is_accepted(tmp_path, small_corpus):
    archive = write_archive(tmp_path / "data", small_corpus)
    splits = NewsgroupsSource(str(archive), download=False).load(tmp_path / "cache")
    assert len(splits["train"]) == len(small_corpus["train"])


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_tables_with_custom_columns(tmp_path, small_corpus, fmt):
    files = write_table(tmp_path / "t", small_corpus, fmt, text_column="body", label_column="y")
    source = FileSource(
        str(files["train"]), str(files["test"]), text_column="body", label_column="y"
    )
    _check(source.load(tmp_path / "cache"), small_corpus)


def test_integer_labels_any_number_of_classes(tmp_path):
    rows = {
        "train": [(str(i % 7), f"doc {i}") for i in range(70)],
        "test": [(str(i % 7), f"test {i}") for i in range(14)],
    }
    path = tmp_path / "t"
    path.mkdir()
    for split, items in rows.items():
        with open(path / f"{split}.jsonl", "w") as fh:
            for label, text in items:
                fh.write(f'{{"text": "{text}", "label": {label}}}\n')
    splits = FileSource(str(path / "train.jsonl"), str(path / "test.jsonl")).load(tmp_path / "c")
    assert splits["train"].features["label"].names == [str(i) for i in range(7)]


def test_hub_source_reads_a_local_saved_dataset(tmp_path, small_corpus):
    files = write_table(tmp_path / "t", small_corpus, "csv")
    saved = FileSource(str(files["train"]), str(files["test"])).load(tmp_path / "cache")
    saved.save_to_disk(str(tmp_path / "saved"))
    splits = HubSource(str(tmp_path / "saved")).load(tmp_path / "cache")
    _check(splits, small_corpus)


def test_non_utf8_bytes_are_decoded_leniently(tmp_path, small_corpus):
    data_dir = write_folder(tmp_path / "data", small_corpus)
    odd = data_dir / "20news-bydate-train" / GROUPS[0] / "99999"
    odd.write_bytes(b"Subject: caf\xe9\n\nna\xefve r\xe9sum\xe9 \xff\xfe")
    splits = NewsgroupsSource(str(data_dir), download=False).load(tmp_path / "cache")
    assert any("résumé" in text for text in splits["train"]["text"])
    assert decode("résumé".encode()) == "résumé"
    assert decode(b"caf\xe9") == "café"


# --------------------------------------------------------------------------- bad input


def test_missing_corpus_without_download_says_where_to_put_it(tmp_path):
    source = NewsgroupsSource(str(tmp_path / "nowhere"), download=False)
    with pytest.raises(DataError, match=r"not found in data directory .*nowhere.*NLPCLF_DATA_DIR"):
        source.prepare(tmp_path / "cache")


def test_failed_download_says_where_to_put_the_file(tmp_path):
    source = NewsgroupsSource(str(tmp_path / "dl"), url="http://127.0.0.1:9/20news.tar.gz")
    with pytest.raises(DataError, match=r"downloading it failed.*Put '20news-bydate.tar.gz'"):
        source.prepare(tmp_path / "cache")
    assert not list((tmp_path / "dl").glob("*.part")), "a failed download left a partial file"


def test_folder_without_the_layout_is_reported(tmp_path):
    (tmp_path / "data" / "something-else").mkdir(parents=True)
    with pytest.raises(DataError, match="20news-bydate-train"):
        NewsgroupsSource(str(tmp_path / "data"), download=False).load(tmp_path / "cache")


def test_corrupt_archive_is_reported(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "20news-bydate.tar.gz").write_bytes(b"\x1f\x8b\x08garbage" * 100)
    with pytest.raises(DataError, match=r"corrupt or not a tar\.gz"):
        NewsgroupsSource(str(tmp_path / "data"), download=False).load(tmp_path / "cache")


def test_archive_of_something_else_is_reported(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "x.txt").write_text("hello")
    with tarfile.open(tmp_path / "data" / "20news-bydate.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "x.txt", arcname="x.txt")
    with pytest.raises(DataError, match="not the 20 Newsgroups 'bydate' archive"):
        NewsgroupsSource(str(tmp_path / "data"), download=False).load(tmp_path / "cache")


def test_missing_columns_are_named_with_the_fix(tmp_path, small_corpus):
    files = write_table(tmp_path / "t", small_corpus, "csv", text_column="body")
    with pytest.raises(DataError, match=r"no column\(s\) \['text'\].*data.source.text_column"):
        FileSource(str(files["train"]), str(files["test"])).load(tmp_path / "cache")


def test_empty_split_is_reported(tmp_path, small_corpus):
    files = write_table(tmp_path / "t", small_corpus, "csv")
    files["test"].write_text("text,label\n")
    with pytest.raises(DataError, match=r"test split .* is empty"):
        FileSource(str(files["train"]), str(files["test"])).load(tmp_path / "cache")


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(DataError, match=r"train file .*nope.csv' does not exist"):
        FileSource(str(tmp_path / "nope.csv"), str(tmp_path / "t.csv")).load(tmp_path / "cache")


def test_malformed_file_is_reported(tmp_path):
    (tmp_path / "train.jsonl").write_text('{"text": "a", "label": "x"}\n{not json\n')
    (tmp_path / "test.jsonl").write_text('{"text": "a", "label": "x"}\n')
    with pytest.raises(DataError, match="Could not parse the data files"):
        FileSource(str(tmp_path / "train.jsonl"), str(tmp_path / "test.jsonl")).load(tmp_path)


def test_test_labels_unseen_in_training_are_reported(tmp_path):
    data = corpus(train_per_class=3, test_per_class=1, groups=["a.x", "b.y"])
    data["test"].append(("c.z", "unseen class"))
    files = write_table(tmp_path / "t", data, "csv")
    with pytest.raises(DataError, match=r"labels the train split lacks: \['c.z'\]"):
        FileSource(str(files["train"]), str(files["test"])).load(tmp_path / "cache")


def test_unreachable_hub_dataset_names_the_fix(tmp_path):
    with pytest.raises(DataError, match=r"Could not load the dataset 'nobody/no-such-set'.*local"):
        HubSource("nobody/no-such-set").load(tmp_path / "cache")
