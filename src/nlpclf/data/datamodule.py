"""The LightningDataModule: source -> protocol -> split -> tokenizer -> cached Arrow -> batches.

Every step goes through ``datasets`` with a deterministic fingerprint, so the expensive work
(parsing the corpus, cleaning, tokenizing) is written to the Arrow cache once and memory-mapped
afterwards. ``prepare_data`` does it on one process per node; ``setup`` on every rank then
finds the cache and only loads.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from datasets import Dataset, DatasetDict, Features, Sequence, Value
from datasets.utils.stratify import stratified_shuffle_split_generate_indices
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from nlpclf.data.protocols import get_protocol
from nlpclf.data.samplers import LengthGroupedSampler, token_lengths
from nlpclf.data.sources import LABEL, TEXT, Source, derive_fingerprint
from nlpclf.data.tokenizer import TextTokenizer, TokenizerSpec, get_tokenizer
from nlpclf.errors import ConfigError, DataError

log = logging.getLogger(__name__)

INPUT_IDS = "input_ids"
VAL_SPLITS = ("random", "latest")


class PadCollator:
    """Pads each batch to its own longest sequence (dynamic padding), right-aligned."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        lengths = [len(e[INPUT_IDS]) for e in examples]
        ids = np.full((len(examples), max(lengths)), self.pad_id, dtype=np.int64)
        for row, example in enumerate(examples):
            ids[row, : lengths[row]] = example[INPUT_IDS]
        input_ids = torch.from_numpy(ids)
        positions = torch.arange(input_ids.shape[1])
        mask = (positions[None, :] < torch.tensor(lengths)[:, None]).long()
        batch = {"input_ids": input_ids, "attention_mask": mask}
        if LABEL in examples[0]:
            batch["labels"] = torch.tensor([e[LABEL] for e in examples], dtype=torch.long)
        return batch


class TextDataModule(L.LightningDataModule):
    """Train / validation / test batches for any :mod:`nlpclf.data.sources` corpus.

    Args:
        source: where the corpus comes from (20 Newsgroups, a Hub dataset, local files).
        cache_dir: writable folder for the Arrow cache and trained vocabularies.
        protocol: ``raw`` or ``clean`` (see :mod:`nlpclf.data.protocols`).
        val_fraction: share of the training split held out, stratified and seeded, for
            validation when the corpus has no validation split of its own.
        val_split: how that share is chosen. ``random``: a seeded stratified sample.
            ``latest``: the last ``val_fraction`` of each class in the corpus's order (20
            Newsgroups: the highest article numbers), so validation, like bydate's test split,
            comes after the training messages in time and model selection sees the drift.
        max_length: tokens kept per document (truncation).
        batch_size: examples per optimizer step over all processes (the global batch); under
            DDP each of the ``world_size`` processes takes ``batch_size / world_size``.
        eval_batch_size: the same for validation and test (defaults to ``batch_size``).
        group_by_length: batch training documents of similar length together (shuffled
            mega-batches, see :mod:`nlpclf.data.samplers`): much less padding, same epochs.
        vocab_size, min_frequency, lowercase: settings of the word-level tokenizer.
        pretrained_tokenizer: a transformer's name or path; when set, its tokenizer replaces
            the word-level one. The transformer model config fills it in by interpolation.
    """

    def __init__(
        self,
        source: Source,
        cache_dir: str,
        protocol: str = "raw",
        val_fraction: float = 0.1,
        val_split: str = "random",
        max_length: int = 512,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        group_by_length: bool = True,
        num_workers: int = 0,
        seed: int = 42,
        vocab_size: int = 50_000,
        min_frequency: int = 2,
        lowercase: bool = True,
        pretrained_tokenizer: str | None = None,
    ) -> None:
        super().__init__()
        get_protocol(protocol)  # fail at construction on a bad name
        _require(
            isinstance(max_length, int) and max_length > 0,
            "max_length",
            max_length,
            "a positive integer, e.g. data.max_length=512",
        )
        _require(
            isinstance(batch_size, int) and batch_size > 0,
            "batch_size",
            batch_size,
            "a positive integer, e.g. data.batch_size=64",
        )
        _require(
            eval_batch_size is None or eval_batch_size > 0,
            "eval_batch_size",
            eval_batch_size,
            "a positive integer or null",
        )
        _require(
            0.0 < val_fraction < 1.0,
            "val_fraction",
            val_fraction,
            "a fraction strictly between 0 and 1, e.g. data.val_fraction=0.1",
        )
        _require(
            val_split in VAL_SPLITS,
            "val_split",
            val_split,
            " or ".join(VAL_SPLITS),
        )
        _require(
            isinstance(vocab_size, int) and vocab_size > 2,
            "vocab_size",
            vocab_size,
            "an integer above 2, e.g. data.vocab_size=50000",
        )
        _require(
            isinstance(min_frequency, int) and min_frequency >= 1,
            "min_frequency",
            min_frequency,
            "an integer >= 1",
        )
        _require(num_workers >= 0, "num_workers", num_workers, "an integer >= 0")
        _require(
            isinstance(group_by_length, bool),
            "group_by_length",
            group_by_length,
            "true or false",
        )
        self.source = source
        self.cache_dir = Path(cache_dir).expanduser()
        self.protocol = protocol
        self.val_fraction = val_fraction
        self.val_split = val_split
        self.max_length = max_length
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.group_by_length = group_by_length
        self.num_workers = num_workers
        self.seed = seed
        self.spec = TokenizerSpec(vocab_size, min_frequency, lowercase, pretrained_tokenizer)
        self.splits: DatasetDict | None = None
        self.tokenizer: TextTokenizer | None = None
        self.label_names: list[str] = []
        # seconds spent in each phase of the last build (read, vocabulary, tokenize, ...)
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ Lightning hooks

    def prepare_data(self) -> None:
        """Download and build every cache; Lightning calls it on one process per node."""
        if self.splits is not None:  # already built in this process (e.g. fit, then test)
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        clock = _Stopwatch()
        self.source.prepare(self.cache_dir)
        clock.lap("source")  # download or conversion to Arrow (near zero once cached)
        self._build(clock)

    def setup(self, stage: str | None = None) -> None:
        if self.splits is None:
            self._build(_Stopwatch())

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False)

    # ------------------------------------------------------------------ what models need

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def vocab_size(self) -> int:
        assert self.tokenizer is not None, "call prepare_data()/setup() first"
        return self.tokenizer.vocab_size

    @property
    def pad_id(self) -> int:
        assert self.tokenizer is not None, "call prepare_data()/setup() first"
        return self.tokenizer.pad_id

    def artifacts(self) -> dict[str, Any]:
        """Plain data that inference needs to reproduce this preprocessing."""
        assert self.tokenizer is not None, "call prepare_data()/setup() first"
        return {
            **self.tokenizer.to_artifact(),
            "protocol": self.protocol,
            "max_length": self.max_length,
            "label_names": list(self.label_names),
            "data_settings": {
                "protocol": self.protocol,
                "max_length": self.max_length,
                "vocab_size": self.spec.vocab_size,
                "min_frequency": self.spec.min_frequency,
                "lowercase": self.spec.lowercase,
                "pretrained_tokenizer": self.spec.pretrained,
            },
        }

    # ------------------------------------------------------------------ the pipeline

    def _build(self, clock: _Stopwatch) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        splits = self.source.load(self.cache_dir)
        self.label_names = list(splits["train"].features[LABEL].names)
        clock.lap("read")
        splits = self._apply_protocol(splits)
        if "validation" not in splits:
            splits = self._carve_validation(splits)
        clock.lap("protocol and split")
        self.tokenizer = get_tokenizer(splits["train"], self.spec, self.cache_dir, self.max_length)
        clock.lap("vocabulary")
        self.splits = self._tokenize(splits, self.tokenizer)
        clock.lap("tokenize")
        self.timings = clock.laps
        sizes = {name: len(ds) for name, ds in self.splits.items()}
        log.info(
            "Data ready in %.1f s (%s): %s, %d classes, vocabulary %d",
            clock.total,
            ", ".join(f"{name} {seconds:.1f} s" for name, seconds in clock.laps.items()),
            sizes,
            self.num_classes,
            self.vocab_size,
        )

    def _apply_protocol(self, splits: DatasetDict) -> DatasetDict:
        if self.protocol == "raw":
            return splits
        fn = get_protocol(self.protocol)
        return DatasetDict(
            {
                name: ds.map(
                    lambda batch: {TEXT: [fn(t or "") for t in batch[TEXT]]},
                    batched=True,
                    new_fingerprint=derive_fingerprint(ds._fingerprint, "protocol", self.protocol),
                    desc=f"Applying the {self.protocol} protocol to {name}",
                )
                for name, ds in splits.items()
            }
        )

    def _carve_validation(self, splits: DatasetDict) -> DatasetDict:
        """A stratified validation split carved from training: seeded, or each class's latest.

        ``random`` is the same split as ``Dataset.train_test_split(stratify_by_column=...)``,
        but the labels are read as one Arrow column: that method reads them row by row,
        minutes for a corpus of millions.
        """
        train = splits["train"]
        labels = train.with_format("numpy", columns=[LABEL])[:][LABEL]
        counts = np.bincount(labels, minlength=len(self.label_names))
        if counts.min() < 2:
            rare = [self.label_names[i] for i in np.flatnonzero(counts < 2)][:5]
            raise DataError(
                f"Classes {rare} have fewer than 2 training examples, too few for a stratified "
                "validation split. Add examples, or provide a validation split "
                "(data.source.validation_file / validation_split)."
            )
        n_val = math.ceil(len(train) * self.val_fraction)
        if n_val < len(self.label_names) or len(train) - n_val < len(self.label_names):
            raise DataError(
                f"data.val_fraction={self.val_fraction} of {len(train)} training examples "
                f"cannot hold every one of the {len(self.label_names)} classes in both parts. "
                "Use a fraction nearer 0.1-0.3 or a larger corpus."
            )
        if self.val_split == "latest":
            train_ids, val_ids = latest_per_class(labels, self.val_fraction, self.label_names)
        else:
            rng = np.random.default_rng(self.seed)
            train_ids, val_ids = next(
                stratified_shuffle_split_generate_indices(labels, len(train) - n_val, n_val, rng)
            )
        parts = {}
        for name, ids in (("train", train_ids), ("val", val_ids)):
            fingerprint = derive_fingerprint(
                train._fingerprint, name, self.val_fraction, self.seed, self.val_split
            )
            parts[name] = train.select(ids, new_fingerprint=fingerprint)
        return DatasetDict(
            {"train": parts["train"], "validation": parts["val"], "test": splits["test"]}
        )

    def _tokenize(self, splits: DatasetDict, tokenizer: TextTokenizer) -> DatasetDict:
        features = Features(
            {
                TEXT: Value("string"),
                LABEL: splits["train"].features[LABEL],
                INPUT_IDS: Sequence(Value("int32")),
            }
        )
        out = {}
        for name, ds in splits.items():
            fingerprint = derive_fingerprint(ds._fingerprint, tokenizer.fingerprint())
            out[name] = ds.map(
                lambda batch: {INPUT_IDS: tokenizer.encode_batch(batch[TEXT])},
                batched=True,
                batch_size=1000,
                features=features,
                new_fingerprint=fingerprint,
                desc=f"Tokenizing {name}",
            )
        return DatasetDict(out)

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        """Batches of one split, sharded over the processes of a distributed run.

        ``batch_size`` is global: each of ``world_size`` processes takes an equal share, so
        scaling devices keeps the optimization the same. Training shuffles with a seed and
        the epoch (restarts see the same order), by default in batches of similar length;
        evaluation shards without padding, so every example is counted exactly once.
        """
        if self.splits is None:
            raise RuntimeError("TextDataModule.setup() must run before asking for batches")
        dataset: Dataset = self.splits[split].select_columns([INPUT_IDS, LABEL])
        trainer = getattr(self, "trainer", None)
        world, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        if batch_size % world:
            raise ConfigError(
                f"data.batch_size={batch_size} (global) does not split evenly over {world} "
                f"processes. Use a multiple of {world}, e.g. data.batch_size="
                f"{max(world, batch_size // world * world)}."
            )
        sampler: Sampler[int]
        if shuffle and self.group_by_length:
            lengths = token_lengths(dataset, INPUT_IDS)
            sampler = LengthGroupedSampler(lengths, batch_size, world, rank, seed=self.seed)
        elif shuffle:
            sampler = DistributedSampler(
                dataset, num_replicas=world, rank=rank, shuffle=True, seed=self.seed
            )
        else:
            sampler = UnrepeatedDistributedSampler(
                dataset, num_replicas=world, rank=rank, shuffle=False
            )
        return DataLoader(
            dataset,
            batch_size=batch_size // world,
            sampler=sampler,
            collate_fn=PadCollator(self.pad_id),
            # the loader draws its worker seeds from its own generator, not the global one
            # that dropout uses: a resumed run then replays the uninterrupted run exactly
            generator=torch.Generator().manual_seed(self.seed),
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )


def latest_per_class(
    labels: np.ndarray, fraction: float, names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Row ids (train, validation): validation holds the last ``ceil(fraction * n)`` rows of
    each class of ``n`` rows, in row order; both keep the rows' order."""
    val = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        take = math.ceil(len(rows) * fraction)
        if take >= len(rows):
            raise DataError(
                f"data.val_fraction={fraction} holds out all {len(rows)} training examples of "
                f"class {names[label]!r}. Use a smaller fraction, e.g. data.val_fraction=0.1."
            )
        val.append(rows[-take:])
    val_ids = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(len(labels)), val_ids), val_ids


class _Stopwatch:
    """Seconds spent in each named phase, for the log and the benchmarks."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self.last
        self.last = now

    @property
    def total(self) -> float:
        return self.last - self.started


def _require(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise ConfigError(f"Invalid data.{name}={value!r}: expected {expected}.")
