"""Checks against the real 20 Newsgroups archive, when the data directory holds it.

CI points NLPCLF_DATA_DIR at ../shared/data; elsewhere these are reported as skipped.
"""

import os
from collections import Counter
from pathlib import Path

import pytest

from nlpclf.data import NewsgroupsSource, TextDataModule

DATA_DIR = os.environ.get("NLPCLF_DATA_DIR", "")
HAS_ARCHIVE = bool(DATA_DIR) and NewsgroupsSource(DATA_DIR).locate(Path("/nonexistent")) is not None

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not HAS_ARCHIVE, reason="NLPCLF_DATA_DIR does not hold 20news-bydate"),
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return Path(os.environ.get("NLPCLF_CACHE_DIR") or tmp_path_factory.mktemp("cache"))


def test_bydate_counts(cache_dir):
    splits = NewsgroupsSource(DATA_DIR, download=False).load(cache_dir)
    assert len(splits["train"]) == 11_314
    assert len(splits["test"]) == 7_532
    names = splits["train"].features["label"].names
    assert len(names) == 20
    counts = Counter(splits["train"]["label"])
    assert counts[names.index("alt.atheism")] == 480


def test_datamodule_on_the_real_corpus(cache_dir):
    dm = TextDataModule(
        NewsgroupsSource(DATA_DIR, download=False),
        cache_dir=str(cache_dir),
        protocol="clean",
        max_length=64,
    )
    dm.setup()
    sizes = {name: len(ds) for name, ds in dm.splits.items()}
    assert sizes == {"train": 10_182, "validation": 1_132, "test": 7_532}
    assert dm.num_classes == 20
    # raw messages all open with their header; cleaned ones only where a body quotes one
    starts = [t.startswith("From:") for t in dm.splits["test"]["text"]]
    assert sum(starts) / len(starts) < 0.02
