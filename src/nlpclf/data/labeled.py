"""One split of a corpus as raw texts plus label ids in a checkpoint's own label order.

Evaluation and the export check score a checkpoint on a corpus without its training pipeline:
texts stay raw, because the checkpoint applies its own protocol and tokenizer, and labels are
matched by name, so the scores stay right even if the corpus lists its classes in another
order than the one the checkpoint was trained with.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from omegaconf import DictConfig

from nlpclf.data.sources import LABEL, TEXT, Source
from nlpclf.errors import ConfigError, DataError
from nlpclf.utils.instantiate import instantiate_component


def labeled_split(
    source: Source,
    cache_dir: str | Path,
    split: str,
    label_names: list[str],
    limit: int | None = None,
    seed: int = 0,
) -> tuple[list[str], torch.Tensor]:
    """Texts and label ids of ``split``; at most ``limit`` of them, a seeded sample."""
    cache_dir = Path(cache_dir).expanduser()
    cache_dir.mkdir(parents=True, exist_ok=True)
    source.prepare(cache_dir)
    splits = source.load(cache_dir)
    if split not in splits:
        raise ConfigError(
            f"The corpus has no '{split}' split; it has {sorted(splits)}. Choose one with "
            f"split=<name> (for example split=test)."
        )
    dataset = splits[split]
    if limit is not None and limit < len(dataset):
        if limit < 1:
            raise ConfigError(f"Invalid sample limit {limit}: use a positive integer or null.")
        chosen = sorted(random.Random(seed).sample(range(len(dataset)), limit))
        dataset = dataset.select(chosen)
    corpus_names = list(dataset.features[LABEL].names)
    index = {name: i for i, name in enumerate(label_names)}
    present = sorted(set(dataset[LABEL]))
    unknown = [corpus_names[i] for i in present if corpus_names[i] not in index]
    if unknown:
        raise DataError(
            f"The {split} split has classes the checkpoint was not trained on: {unknown[:10]}. "
            f"The checkpoint knows {label_names[:20]}. Evaluate it on the corpus it was trained "
            "on (data=..., paths.data_dir=...)."
        )
    labels = torch.tensor([index[corpus_names[i]] for i in dataset[LABEL]], dtype=torch.long)
    texts = [text or "" for text in dataset[TEXT]]
    return texts, labels


def labeled_split_from_config(
    data: DictConfig, split: str, label_names: list[str], limit: int | None = None, seed: int = 0
) -> tuple[list[str], torch.Tensor]:
    """:func:`labeled_split` for the ``source`` and ``cache_dir`` of a ``data`` config."""
    if "source" not in data or "cache_dir" not in data:
        raise ConfigError(
            "The data config needs 'source' and 'cache_dir' (as conf/data/newsgroups.yaml has)."
        )
    source = instantiate_component(data.source, "data.source")
    return labeled_split(source, data.cache_dir, split, label_names, limit, seed)
