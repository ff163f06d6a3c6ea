"""Corpus sources: each turns "where the data lives" into a ``datasets.DatasetDict``.

Every source returns the splits ``train`` and ``test`` (plus ``validation`` when the corpus
ships one) with exactly two columns: ``text`` (string) and ``label`` (a ``ClassLabel`` that
carries the label names). Rows keep the corpus's own order, oldest first where it has one
(20 Newsgroups: by article number), which ``data.val_split=latest`` relies on. Everything
after this point (protocols, splitting, tokenization) is shared, so a new corpus only needs a
new source.

Sources read through ``datasets`` so that the parsed corpus lands in the Arrow cache once and
later runs memory-map it instead of parsing again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import datasets
import numpy as np
from datasets import ClassLabel, DatasetDict, Features, Value

from nlpclf.errors import DataError

TEXT, LABEL = "text", "label"
PIPELINE_VERSION = 1

NEWSGROUPS_URL = "http://qwone.com/~jason/20Newsgroups/20news-bydate.tar.gz"
NEWSGROUPS_ARCHIVE = "20news-bydate.tar.gz"
NEWSGROUPS_SPLIT_DIRS = {"train": "20news-bydate-train", "test": "20news-bydate-test"}
SPLIT = "split"  # a column of the one-pass read, dropped once the splits are apart
ARTICLE = "article"  # the message's number on its news server: arrival order, dropped too


class Source(Protocol):
    """What the data module needs from a corpus."""

    def prepare(self, cache_dir: Path) -> None:
        """Fetch whatever must be fetched (called once, on the main process)."""

    def load(self, cache_dir: Path) -> DatasetDict:
        """Return the standardized splits, from the Arrow cache when possible."""


def decode(raw: bytes) -> str:
    """UTF-8 when it is UTF-8, latin-1 otherwise: the corpus mixes both and never fails."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# --------------------------------------------------------------------------- 20 Newsgroups


@dataclass
class NewsgroupsSource:
    """The canonical "bydate" 20 Newsgroups corpus, as the archive or its extracted folders.

    ``data_dir`` may hold ``20news-bydate.tar.gz`` or the folders ``20news-bydate-train/`` and
    ``20news-bydate-test/``; it may also be the archive's own path. The archive is read in
    place (nothing is extracted beside it, so the folder may be read-only). When nothing is
    found it is downloaded into ``data_dir`` if writable, else into the cache folder.
    """

    data_dir: str
    download: bool = True
    url: str = NEWSGROUPS_URL

    def _candidates(self, cache_dir: Path) -> list[Path]:
        return [Path(self.data_dir).expanduser(), cache_dir / "data"]

    def locate(self, cache_dir: Path) -> Path | None:
        for root in self._candidates(cache_dir):
            if root.is_file():
                return root
            if (root / NEWSGROUPS_ARCHIVE).is_file():
                return root / NEWSGROUPS_ARCHIVE
            if all((root / d).is_dir() for d in NEWSGROUPS_SPLIT_DIRS.values()):
                return root
        return None

    def _missing_message(self, reason: str) -> str:
        return (
            f"The 20 Newsgroups corpus was not found in data directory '{self.data_dir}' "
            f"({reason}). Put '{NEWSGROUPS_ARCHIVE}' (from {self.url}) or its extracted folders "
            f"'20news-bydate-train/' and '20news-bydate-test/' there, or point the data "
            "directory elsewhere with the environment variable NLPCLF_DATA_DIR or the override "
            "paths.data_dir=/path/to/folder."
        )

    def prepare(self, cache_dir: Path) -> None:
        if self.locate(cache_dir) is not None:
            return
        if not self.download:
            raise DataError(self._missing_message("downloading is disabled: data.source.download"))
        target_dir = Path(self.data_dir).expanduser()
        if not _writable(target_dir):
            target_dir = cache_dir / "data"
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / NEWSGROUPS_ARCHIVE
        fd, partial = tempfile.mkstemp(dir=target_dir, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(self.url, timeout=60) as resp:
                shutil.copyfileobj(resp, out)
            os.replace(partial, target)  # atomic: never a half-written archive in place
        except OSError as exc:
            Path(partial).unlink(missing_ok=True)
            raise DataError(self._missing_message(f"downloading it failed: {exc}")) from None

    def load(self, cache_dir: Path) -> DatasetDict:
        """Both splits from one pass over the corpus (a tar.gz is costly to walk)."""
        path = self.locate(cache_dir)
        if path is None:
            raise DataError(self._missing_message("no archive and no extracted folders"))
        reader = _iter_archive if path.is_file() else _iter_folder
        features = Features(
            {
                TEXT: Value("string"),
                LABEL: Value("string"),
                SPLIT: Value("string"),
                ARTICLE: Value("int64"),
            }
        )
        try:
            both = datasets.Dataset.from_generator(
                reader,
                features=features,
                gen_kwargs={"path": str(path), "stamp": _stamp(path)},
                cache_dir=str(cache_dir / "datasets"),
            )
        except datasets.exceptions.DatasetGenerationError as exc:
            cause = exc.__cause__
            if isinstance(cause, DataError):
                raise cause from None
            raise
        columns = both.with_format("numpy", columns=[SPLIT, ARTICLE])[:]
        names, articles = columns[SPLIT], columns[ARTICLE]
        splits = {}
        for split, prefix in NEWSGROUPS_SPLIT_DIRS.items():
            rows = np.flatnonzero(names == split)
            if len(rows) == 0:
                raise DataError(
                    f"'{path}' has no '{prefix}/<newsgroup>/<message>' files: it is not the "
                    f"20 Newsgroups 'bydate' archive. Use {NEWSGROUPS_URL}."
                )
            rows = rows[np.argsort(articles[rows], kind="stable")]  # oldest first, per server
            fingerprint = derive_fingerprint(both._fingerprint, split)
            splits[split] = both.select(rows, new_fingerprint=fingerprint).remove_columns(
                [SPLIT, ARTICLE]
            )
        return standardize(DatasetDict(splits), TEXT, LABEL, origin=str(path))


def _writable(folder: Path) -> bool:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK)


def _stamp(path: Path) -> str:
    """Changes whenever the corpus on disk changes, so the Arrow cache is rebuilt."""
    if path.is_file():
        st = path.stat()
        return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    parts = [str(path.resolve())]
    for split_dir in NEWSGROUPS_SPLIT_DIRS.values():
        for group in sorted((path / split_dir).iterdir()):
            parts.append(f"{group.name}:{group.stat().st_mtime_ns}")
    return "|".join(parts)


def _iter_archive(path: str, stamp: str) -> Iterator[dict[str, str]]:
    del stamp  # only part of the cache fingerprint
    split_of = {prefix: split for split, prefix in NEWSGROUPS_SPLIT_DIRS.items()}
    found = False
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                parts = Path(member.name).parts
                if parts and parts[0] == ".":
                    parts = parts[1:]
                if member.isfile() and len(parts) == 3 and parts[0] in split_of:
                    handle = archive.extractfile(member)
                    assert handle is not None
                    found = True
                    text = decode(handle.read())
                    yield {
                        TEXT: text,
                        LABEL: parts[1],
                        SPLIT: split_of[parts[0]],
                        ARTICLE: _article(parts[2]),
                    }
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(
            f"The archive '{path}' is corrupt or not a tar.gz file ({exc}). Delete it and "
            f"download {NEWSGROUPS_URL} again, or replace it with the extracted folders."
        ) from None
    if not found:
        raise DataError(
            f"The archive '{path}' has no '20news-bydate-train|test/<newsgroup>/<message>' "
            f"files: it is not the 20 Newsgroups 'bydate' archive. Use {NEWSGROUPS_URL}."
        )


def _iter_folder(path: str, stamp: str) -> Iterator[dict[str, str]]:
    del stamp
    for split, prefix in NEWSGROUPS_SPLIT_DIRS.items():
        split_dir = Path(path) / prefix
        for group in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            for message in sorted(p for p in group.iterdir() if p.is_file()):
                yield {
                    TEXT: decode(message.read_bytes()),
                    LABEL: group.name,
                    SPLIT: split,
                    ARTICLE: _article(message.name),
                }


def _article(name: str) -> int:
    """A message file's article number (bydate names every file so); 0 for any other name."""
    return int(name) if name.isdigit() else 0


# --------------------------------------------------------------------------- other corpora


@dataclass
class HubSource:
    """A dataset on the Hugging Face Hub (e.g. ``SetFit/20_newsgroups``) or a local folder.

    A folder written by ``DatasetDict.save_to_disk`` is loaded directly; anything else goes
    through ``datasets.load_dataset``, which caches downloads under the cache folder.
    """

    name: str
    config_name: str | None = None
    text_column: str = TEXT
    label_column: str = LABEL
    train_split: str = "train"
    test_split: str = "test"
    validation_split: str | None = None

    def prepare(self, cache_dir: Path) -> None:
        self._load_raw(cache_dir)

    def _load_raw(self, cache_dir: Path) -> DatasetDict:
        local = Path(self.name).expanduser()
        try:
            if (local / "dataset_dict.json").is_file():
                return datasets.load_from_disk(str(local))
            loaded = datasets.load_dataset(
                self.name, self.config_name, cache_dir=str(cache_dir / "hub")
            )
        except Exception as exc:  # the Hub raises many types: network, auth, not found
            raise DataError(
                f"Could not load the dataset '{self.name}' ({type(exc).__name__}: {exc}). Use a "
                "Hub dataset id on a machine with network access, or a local folder (written by "
                "save_to_disk, or holding csv/jsonl/parquet files): data.source.name=/path."
            ) from None
        if not isinstance(loaded, DatasetDict):
            raise DataError(f"The dataset '{self.name}' has no named splits.")
        return loaded

    def load(self, cache_dir: Path) -> DatasetDict:
        raw = self._load_raw(cache_dir)
        wanted = {"train": self.train_split, "test": self.test_split}
        if self.validation_split:
            wanted["validation"] = self.validation_split
        missing = [s for s in wanted.values() if s not in raw]
        if missing:
            raise DataError(
                f"The dataset '{self.name}' has no split(s) {missing}; it has {sorted(raw)}. "
                "Choose them with data.source.train_split / test_split / validation_split."
            )
        splits = DatasetDict({ours: raw[theirs] for ours, theirs in wanted.items()})
        return standardize(splits, self.text_column, self.label_column, origin=self.name)


_FILE_BUILDERS = {".csv": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}


@dataclass
class FileSource:
    """Local csv / jsonl / parquet files, one per split, with configurable columns.

    Labels may be strings (names kept, sorted) or integers; any number of classes.
    """

    train_file: str
    test_file: str
    validation_file: str | None = None
    text_column: str = TEXT
    label_column: str = LABEL

    def _files(self) -> dict[str, Path]:
        files = {"train": self.train_file, "test": self.test_file}
        if self.validation_file:
            files["validation"] = self.validation_file
        return {split: Path(f).expanduser() for split, f in files.items()}

    def prepare(self, cache_dir: Path) -> None:
        self.load(cache_dir)

    def load(self, cache_dir: Path) -> DatasetDict:
        files = self._files()
        suffixes = set()
        for split, path in files.items():
            if not path.is_file():
                raise DataError(
                    f"The {split} file '{path}' does not exist. Set data.source.{split}_file "
                    "to an existing csv, jsonl or parquet file."
                )
            if path.suffix.lower() not in _FILE_BUILDERS:
                raise DataError(
                    f"The {split} file '{path}' has an unsupported extension "
                    f"'{path.suffix}'. Use one of {sorted(_FILE_BUILDERS)}."
                )
            suffixes.add(_FILE_BUILDERS[path.suffix.lower()])
        if len(suffixes) > 1:
            raise DataError(f"All split files must share one format; got {sorted(suffixes)}.")
        try:
            loaded = datasets.load_dataset(
                suffixes.pop(),
                data_files={split: str(path) for split, path in files.items()},
                cache_dir=str(cache_dir / "files"),
            )
        except Exception as exc:  # pyarrow / pandas parse errors come in many types
            empty = re.search(r'Instruction "(\w+)" corresponds to no data', str(exc))
            if empty:
                split = empty.group(1)
                raise DataError(
                    f"The {split} split ('{files[split]}') is empty: it needs examples."
                ) from None
            raise DataError(
                f"Could not parse the data files {[str(p) for p in files.values()]}: "
                f"{type(exc).__name__}: {exc}. Check that each file is valid and that every "
                "row has the same columns."
            ) from None
        return standardize(loaded, self.text_column, self.label_column, origin=self.train_file)


# --------------------------------------------------------------------------- standardize


def derive_fingerprint(*parts: object) -> str:
    """A cache fingerprint for a pipeline step, from its input's fingerprint and settings.

    ``datasets`` would hash the step's function instead, which is not stable across
    processes for closures; an explicit fingerprint makes every run find the same cache.
    Bumping ``PIPELINE_VERSION`` invalidates all caches after a change to the pipeline.
    """
    text = "|".join(map(str, (PIPELINE_VERSION, *parts)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def standardize(
    splits: DatasetDict, text_column: str, label_column: str, origin: str
) -> DatasetDict:
    """Check and rename columns, then encode labels with the training split's names."""
    for split, ds in splits.items():
        missing = [c for c in (text_column, label_column) if c not in ds.column_names]
        if missing:
            raise DataError(
                f"The {split} split of '{origin}' has no column(s) {missing}; its columns are "
                f"{ds.column_names}. Name the right ones with data.source.text_column and "
                "data.source.label_column."
            )
        if len(ds) == 0:
            raise DataError(f"The {split} split of '{origin}' is empty: it needs examples.")
    splits = DatasetDict(
        {
            split: ds.select_columns([text_column, label_column]).rename_columns(
                {text_column: TEXT, label_column: LABEL}
            )
            if (text_column, label_column) != (TEXT, LABEL)
            else ds.select_columns([TEXT, LABEL])
            for split, ds in splits.items()
        }
    )
    return _encode_labels(splits, origin)


def _encode_labels(splits: DatasetDict, origin: str) -> DatasetDict:
    train_feature = splits["train"].features[LABEL]
    if isinstance(train_feature, ClassLabel):
        names = list(train_feature.names)
    else:
        values = set(splits["train"].unique(LABEL))  # one Arrow pass, not row by row
        if None in values:
            raise DataError(f"The train split of '{origin}' has rows without a label.")
        if all(isinstance(v, str) for v in values):
            names = sorted(values)
        elif all(isinstance(v, int) for v in values):
            if min(values) < 0:
                raise DataError(f"Labels of '{origin}' must be >= 0; found {min(values)}.")
            names = [str(i) for i in range(max(values) + 1)]
        else:
            raise DataError(
                f"Labels of '{origin}' must be all strings or all integers; found "
                f"{sorted({type(v).__name__ for v in values})}."
            )
    if len(names) < 2:
        raise DataError(f"The train split of '{origin}' has {len(names)} class(es); need >= 2.")
    target = ClassLabel(names=names)
    encoded = {}
    for split, ds in splits.items():
        feature = ds.features[LABEL]
        if isinstance(feature, ClassLabel):
            if list(feature.names) != names:
                raise DataError(
                    f"The {split} split of '{origin}' has label names {feature.names}, "
                    f"unlike the train split's {names}."
                )
            encoded[split] = ds
            continue
        values = set(ds.unique(LABEL))
        known = set(names) if isinstance(next(iter(values), ""), str) else set(range(len(names)))
        unknown = values - known
        if unknown:
            raise DataError(
                f"The {split} split of '{origin}' has labels the train split lacks: "
                f"{sorted(map(str, unknown))[:10]}. Every class must occur in training."
            )
        if all(isinstance(v, str) for v in values):
            index = {name: i for i, name in enumerate(names)}
            ds = ds.map(
                lambda batch, index=index: {LABEL: [index[v] for v in batch[LABEL]]},
                batched=True,
                new_fingerprint=derive_fingerprint(ds._fingerprint, "labels", names),
                features=Features({TEXT: ds.features[TEXT], LABEL: target}),
                desc=f"Encoding {split} labels",
            )
        else:
            ds = ds.cast_column(LABEL, target)
        encoded[split] = ds
    return DatasetDict(encoded)
