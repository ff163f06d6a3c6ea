"""Small generated corpora in every layout nlpclf reads, so tests never need the network.

Each class has its own topic words, mixed with shared filler words, so a model can separate the
classes in a few epochs while chance stays at 1 / number of classes. Messages look like Usenet
posts (header block, quoted reply, signature) so the ``clean`` protocol has work to do.
"""

from __future__ import annotations

import csv
import json
import random
import tarfile
from pathlib import Path

FILLER = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "at",
    "by",
    "this",
    "are",
    "from",
    "or",
]
GROUPS = ["comp.graphics", "rec.autos", "sci.space", "talk.politics.misc"]


def topic_words(group: str) -> list[str]:
    stem = group.split(".")[-1]
    return [f"{stem}{i}" for i in range(12)]


def message(group: str, rng: random.Random, index: int) -> str:
    words = [
        rng.choice(topic_words(group)) if rng.random() < 0.4 else rng.choice(FILLER)
        for _ in range(rng.randint(20, 60))
    ]
    return (
        f"From: user{index}@{group}.example.org\n"
        f"Subject: message {index} about {group}\n"
        f"Organization: Org {group}\n\n"
        f"In article <{index}@host> someone writes:\n"
        f"> quoted {rng.choice(FILLER)} text\n"
        f"{' '.join(words)}\n"
        f"--\n"
        f"Signature of user{index}\n"
    )


def corpus(
    train_per_class: int = 30,
    test_per_class: int = 10,
    groups: list[str] | None = None,
    seed: int = 0,
) -> dict[str, list[tuple[str, str]]]:
    """{"train": [(group, text), ...], "test": [...]} with unique texts."""
    rng = random.Random(seed)
    groups = groups or GROUPS
    out: dict[str, list[tuple[str, str]]] = {"train": [], "test": []}
    index = 0
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for group in groups:
            for _ in range(count):
                out[split].append((group, message(group, rng, index)))
                index += 1
    return out


def write_folder(root: Path, data: dict[str, list[tuple[str, str]]]) -> Path:
    """The extracted bydate layout: 20news-bydate-{train,test}/<group>/<id>."""
    for split, rows in data.items():
        for number, (group, text) in enumerate(rows):
            path = root / f"20news-bydate-{split}" / group / str(10000 + number)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
    return root


def write_archive(root: Path, data: dict[str, list[tuple[str, str]]]) -> Path:
    """``20news-bydate.tar.gz`` in ``root``, built from a folder layout elsewhere."""
    staging = write_folder(root.parent / f"{root.name}-staging", data)
    root.mkdir(parents=True, exist_ok=True)
    archive = root / "20news-bydate.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for split in data:
            tar.add(staging / f"20news-bydate-{split}", arcname=f"20news-bydate-{split}")
    return archive


def write_table(
    root: Path,
    data: dict[str, list[tuple[str, str]]],
    fmt: str,
    text_column: str = "text",
    label_column: str = "label",
) -> dict[str, Path]:
    """One csv or jsonl file per split with the given column names."""
    root.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, rows in data.items():
        path = root / f"{split}.{fmt}"
        if fmt == "csv":
            with open(path, "w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow([text_column, label_column])
                writer.writerows((text, group) for group, text in rows)
        elif fmt == "jsonl":
            with open(path, "w") as fh:
                for group, text in rows:
                    fh.write(json.dumps({text_column: text, label_column: group}) + "\n")
        else:
            raise ValueError(fmt)
        paths[split] = path
    return paths


def with_label_noise(
    data: dict[str, list[tuple[str, str]]], per_class: int = 2
) -> dict[str, list[tuple[str, str]]]:
    """Relabel the first ``per_class`` training messages of each group as the next group.

    The messages keep their own topic words (and "about <group>" in the subject), so a trained
    model misclassifies them confidently: the dashboards then have mistakes to show.
    """
    groups = sorted({group for group, _ in data["train"]})
    moved: dict[str, int] = {}
    train = []
    for group, text in data["train"]:
        if moved.get(group, 0) < per_class:
            moved[group] = moved.get(group, 0) + 1
            group = groups[(groups.index(group) + 1) % len(groups)]
        train.append((group, text))
    return {**data, "train": train}
