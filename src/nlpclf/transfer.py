"""Start a word-level encoder's embedding table from pretrained vectors.

Sources: a GloVe or word2vec text file (``word v1 v2 ...`` per line, an optional
``count dim`` header), or a pretrained transformer (Hub id or folder), whose input embeddings
are averaged over each word's sub-word pieces. Words the source lacks start from a normal
distribution with the mean and spread of the vectors that were found, and are counted in the
log, so a bad match between vocabulary and vectors is visible at once.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from nlpclf.errors import ConfigError

log = logging.getLogger(__name__)


def read_text_vectors(path: Path, vocab: dict[str, int], dim: int) -> dict[int, torch.Tensor]:
    """Vectors of the vocabulary's words (first match wins; case-insensitive fallback)."""
    found: dict[int, torch.Tensor] = {}
    lowered: dict[int, torch.Tensor] = {}
    lower_vocab = {word.lower(): index for word, index in vocab.items()}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, start=1):
            parts = line.rstrip().split(" ")
            if line_no == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header: "<count> <dim>"
            if len(parts) != dim + 1:
                raise ConfigError(
                    f"Line {line_no} of the word vectors '{path}' has {len(parts) - 1} values, "
                    f"but model.encoder.embed_dim={dim}. Set model.encoder.embed_dim to the "
                    "vectors' dimension."
                )
            word = parts[0]
            if word in vocab and vocab[word] not in found:
                found[vocab[word]] = torch.tensor([float(v) for v in parts[1:]])
            elif word.lower() in lower_vocab:
                lowered.setdefault(
                    lower_vocab[word.lower()], torch.tensor([float(v) for v in parts[1:]])
                )
    for index, vector in lowered.items():
        found.setdefault(index, vector)
    return found


def principal_components(table: torch.Tensor, dim: int) -> torch.Tensor:
    """The table projected on its ``dim`` main directions (PCA).

    A narrower embedding keeps most of what the pretrained vectors know while the encoder's
    first layer, which runs at every token, gets several times cheaper.
    """
    centered = table - table.mean(dim=0)
    generator_state = torch.get_rng_state()
    torch.manual_seed(0)  # pca_lowrank draws random projections: same result every run
    _, _, directions = torch.pca_lowrank(centered, q=dim, center=False, niter=4)
    torch.set_rng_state(generator_state)
    reduced = centered @ directions[:, :dim]
    log.info(
        "Transformer embeddings reduced from %d to %d dimensions by PCA (%.0f%% of the variance).",
        table.shape[1],
        dim,
        100 * float(reduced.var(dim=0).sum() / centered.var(dim=0).sum()),
    )
    return reduced


def transformer_vectors(name: str, vocab: dict[str, int], dim: int) -> dict[int, torch.Tensor]:
    """Each word's vector: the mean of its sub-word pieces' input embeddings."""
    from nlpclf.pretrained import load_auto_model, load_auto_tokenizer

    tokenizer = load_auto_tokenizer(name)
    table = load_auto_model(name).get_input_embeddings().weight.detach().float()
    if table.shape[1] < dim:
        raise ConfigError(
            f"'{name}' has {table.shape[1]}-dimensional input embeddings, fewer than "
            f"model.encoder.embed_dim={dim}. Set model.encoder.embed_dim={table.shape[1]} or less."
        )
    if table.shape[1] > dim:
        table = principal_components(table, dim)
    words = sorted(vocab, key=vocab.get)
    pieces = tokenizer(words, add_special_tokens=False)["input_ids"]
    unk = tokenizer.unk_token_id
    kept = [(vocab[w], ids) for w, ids in zip(words, pieces, strict=True) if ids and unk not in ids]
    if not kept:
        return {}
    # every word's mean in one call: a Python loop over 100k words took seconds at each start
    flat = torch.tensor([piece for _, ids in kept for piece in ids])
    offsets = torch.tensor([0, *itertools.accumulate(len(ids) for _, ids in kept)][:-1])
    means = F.embedding_bag(flat, table, offsets, mode="mean")
    return dict(zip((index for index, _ in kept), means.unbind(0), strict=True))


def init_embedding(
    embedding: nn.Embedding, source: str, vocab: dict[str, int], pad_id: int
) -> tuple[int, int]:
    """Copy pretrained vectors into ``embedding``; returns (words found, vocabulary size)."""
    dim = embedding.embedding_dim
    path = Path(source).expanduser()
    if path.is_file():
        found = read_text_vectors(path, vocab, dim)
    elif path.suffix in (".txt", ".vec") and not path.exists():
        raise ConfigError(f"The word vectors file '{path}' does not exist (model.word_vectors).")
    else:
        found = transformer_vectors(source, vocab, dim)
    found.pop(pad_id, None)
    if not found:
        raise ConfigError(
            f"None of the {len(vocab)} vocabulary words has a vector in '{source}'. Check that "
            "the vectors match the corpus language and data.lowercase."
        )
    vectors = torch.stack(list(found.values()))
    with torch.no_grad():
        weight = embedding.weight
        weight.normal_(float(vectors.mean()), float(vectors.std()))
        rows = torch.tensor(list(found), dtype=torch.long)
        weight[rows] = vectors.to(weight.dtype)
        weight[pad_id] = 0.0
    total = len(vocab)
    log.info(
        "Word vectors from %s: %d of %d words found, %d missing start random.",
        source,
        len(found),
        total,
        total - len(found),
    )
    return len(found), total
