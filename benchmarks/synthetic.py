"""A synthetic newsgroup-like corpus of any size, for the scale benchmark.

Each message has the headers of a Usenet post (From, Subject, Organization, Lines) and a body
of Zipf-distributed words, with log-normal lengths around 20 Newsgroups' own (about 1,900
characters); each of the 20 classes prefers its own topic words. Written to Parquet in chunks,
so generating a million documents needs little memory.

    python -m benchmarks.synthetic --docs 1000000 --out /tmp/synthetic
"""

from __future__ import annotations

import argparse
import string
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CLASSES = 20
VOCABULARY = 60_000
TOPIC_WORDS = 300  # per class
WORDS_MEAN, WORDS_SIGMA = 5.3, 0.8  # log-normal body length: median ~200, mean ~275 words
CHUNK = 20_000


def _words(rng: np.random.Generator, count: int) -> np.ndarray:
    letters = np.array(list(string.ascii_lowercase))
    lengths = rng.integers(2, 11, size=count)
    return np.array(["".join(rng.choice(letters, size=n)) for n in lengths], dtype=object)


def generate(path: Path, docs: int, seed: int = 0) -> Path:
    """Write ``docs`` messages with columns text and label to ``path`` (Parquet)."""
    rng = np.random.default_rng(seed)
    vocabulary = _words(rng, VOCABULARY)
    ranks = np.arange(1, VOCABULARY + 1)
    general = (1.0 / ranks) / (1.0 / ranks).sum()  # Zipf's law
    topics = rng.integers(0, VOCABULARY, size=(CLASSES, TOPIC_WORDS))
    hosts = _words(rng, 2_000)
    labels = np.array([f"group.{i:02d}" for i in range(CLASSES)], dtype=object)
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("text", pa.string()), ("label", pa.string())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, docs, CHUNK):
            n = min(CHUNK, docs - start)
            classes = rng.integers(0, CLASSES, size=n)
            lengths = np.maximum(5, rng.lognormal(WORDS_MEAN, WORDS_SIGMA, size=n).astype(int))
            body = rng.choice(VOCABULARY, size=int(lengths.sum()), p=general)
            topical = rng.random(body.size) < 0.1
            owner = np.repeat(classes, lengths)
            body[topical] = topics[owner[topical], rng.integers(0, TOPIC_WORDS, topical.sum())]
            words = vocabulary[body]
            texts, offset = [], 0
            for i in range(n):
                host = hosts[rng.integers(0, len(hosts))]
                subject = " ".join(words[offset : offset + 5])
                text = " ".join(words[offset : offset + lengths[i]])
                offset += lengths[i]
                texts.append(
                    f"From: user{start + i}@{host}.edu\nSubject: Re: {subject}\n"
                    f"Organization: {host} university\nLines: {lengths[i] // 12 + 1}\n\n{text}\n"
                )
            table = pa.table({"text": texts, "label": labels[classes]}, schema=schema)
            writer.write_table(table)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, required=True, help="training documents")
    parser.add_argument("--test-docs", type=int, default=10_000)
    parser.add_argument("--out", type=Path, required=True, help="folder for train/test.parquet")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    generate(args.out / "train.parquet", args.docs, args.seed)
    generate(args.out / "test.parquet", args.test_docs, args.seed + 1)


if __name__ == "__main__":
    main()
