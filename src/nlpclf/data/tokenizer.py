"""Tokenizers: a word-level vocabulary trained on the training split, or a pretrained one.

Both end up as a ``tokenizers.Tokenizer`` so the pipeline, and the checkpoint (which stores
``Tokenizer.to_str()``), treat them alike. Word-level training is cached by the fingerprint of
the training split and the settings, so a second run loads the vocabulary instead of
re-counting the corpus.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from tokenizers.trainers import WordLevelTrainer

from nlpclf.errors import ConfigError

PAD, UNK = "[PAD]", "[UNK]"


@dataclass(frozen=True)
class TokenizerSpec:
    """How to get the tokenizer: train a word vocabulary, or use a pretrained model's."""

    vocab_size: int = 50_000
    min_frequency: int = 2
    lowercase: bool = True
    pretrained: str | None = None

    def key(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


# A word-level token is rarely longer than this many characters on average: texts are cut to
# ``max_length * CHARS_PER_TOKEN`` characters before tokenizing (see ``encode_batch``).
CHARS_PER_TOKEN = 8


@dataclass
class TextTokenizer:
    """A ``tokenizers.Tokenizer`` plus the id used for padding."""

    tokenizer: Tokenizer
    pad_id: int
    max_length: int | None = None
    _probe: Tokenizer | None = field(default=None, repr=False)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    @property
    def word_level(self) -> bool:
        model, post = self.tokenizer.model, self.tokenizer.post_processor
        return isinstance(model, WordLevel) and post is None

    def fingerprint(self) -> str:
        return hashlib.sha256(self.tokenizer.to_str().encode()).hexdigest()[:16]

    def truncate_to(self, max_length: int) -> TextTokenizer:
        """Keep at most ``max_length`` tokens per text (part of the saved tokenizer)."""
        self.tokenizer.enable_truncation(max_length)
        self.max_length = max_length
        self._probe = None
        if self.word_level:
            self._probe = Tokenizer.from_str(self.tokenizer.to_str())
            self._probe.enable_truncation(max_length + 1)
        return self

    def encode_batch(self, texts: list[str | None]) -> list[list[int]]:
        """Token ids, truncated as configured; never empty (an empty text becomes [UNK]).

        A word-level tokenizer only reads the head of a long text: most of the time of a
        corpus goes to its few very long documents, yet only their first ``max_length`` tokens
        are kept. The head is tokenized with room for one token more; when that token exists,
        the first ``max_length`` are exactly those of the whole text (normalization and
        pre-tokenization are local, only the token at the cut can differ). Otherwise the whole
        text is tokenized. The result always equals tokenizing the whole text.
        """
        texts = [t or "" for t in texts]
        fallback = [self.tokenizer.token_to_id(UNK) or self.pad_id]
        if self._probe is None or self.max_length is None:
            return [e.ids or fallback for e in _encode(self.tokenizer, texts)]
        limit, cut = self.max_length, self.max_length * CHARS_PER_TOKEN
        ids = [e.ids for e in _encode(self._probe, [t[:cut] for t in texts])]
        redo = [i for i, row in enumerate(ids) if len(row) <= limit and len(texts[i]) > cut]
        whole = _encode(self.tokenizer, [texts[i] for i in redo])
        for i, encoding in zip(redo, whole, strict=True):
            ids[i] = encoding.ids
        return [row[:limit] or fallback for row in ids]

    def to_artifact(self) -> dict[str, object]:
        return {"tokenizer_json": self.tokenizer.to_str(), "pad_id": self.pad_id}

    @classmethod
    def from_artifact(cls, artifact: dict[str, object]) -> TextTokenizer:
        tokenizer = Tokenizer.from_str(str(artifact["tokenizer_json"]))
        return cls(tokenizer=tokenizer, pad_id=int(artifact["pad_id"]))  # type: ignore[arg-type]


def _encode(tokenizer: Tokenizer, texts: list[str]) -> list[Any]:
    """Encode without character offsets when the library can: they are unused, and costly."""
    fast = getattr(tokenizer, "encode_batch_fast", None)
    return fast(texts) if fast is not None else tokenizer.encode_batch(texts)


def train_word_tokenizer(train: Dataset, spec: TokenizerSpec) -> TextTokenizer:
    """Learn a word vocabulary from the training texts only (never validation or test)."""
    tokenizer = Tokenizer(WordLevel(unk_token=UNK))
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if spec.lowercase else [])
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = WordLevelTrainer(
        vocab_size=spec.vocab_size,
        min_frequency=spec.min_frequency,
        special_tokens=[PAD, UNK],
        show_progress=False,
    )

    def batches() -> Iterator[list[str]]:
        for start in range(0, len(train), 1000):
            yield [t or "" for t in train[start : start + 1000]["text"]]

    tokenizer.train_from_iterator(batches(), trainer=trainer, length=len(train))
    return TextTokenizer(tokenizer=tokenizer, pad_id=tokenizer.token_to_id(PAD))


def load_pretrained_tokenizer(name_or_path: str, max_length: int) -> TextTokenizer:
    """The fast tokenizer of a pretrained transformer (Hub id or local folder).

    ``max_length`` is checked against the model's own limit: longer inputs would index past
    its position embeddings.
    """
    from nlpclf.pretrained import load_auto_tokenizer, max_tokens

    auto = load_auto_tokenizer(name_or_path)
    limit = max_tokens(name_or_path, auto)
    if limit is not None and max_length > limit:
        raise ConfigError(
            f"data.max_length={max_length} exceeds the {limit}-token limit of "
            f"'{name_or_path}'. Set data.max_length={limit} or less."
        )
    if auto.pad_token_id is None:
        raise ConfigError(f"The tokenizer of '{name_or_path}' has no padding token.")
    tokenizer = Tokenizer.from_str(auto.backend_tokenizer.to_str())  # a copy we may configure
    tokenizer.no_padding()
    return TextTokenizer(tokenizer=tokenizer, pad_id=int(auto.pad_token_id))


def get_tokenizer(
    train: Dataset, spec: TokenizerSpec, cache_dir: Path, max_length: int
) -> TextTokenizer:
    """The tokenizer the spec asks for, truncating to ``max_length`` tokens."""
    if spec.pretrained:
        return load_pretrained_tokenizer(spec.pretrained, max_length).truncate_to(max_length)
    return _word_tokenizer(train, spec, cache_dir).truncate_to(max_length)


def _word_tokenizer(train: Dataset, spec: TokenizerSpec, cache_dir: Path) -> TextTokenizer:
    """Train the word tokenizer, or load it from the cache when trained before."""
    key = hashlib.sha256(f"{train._fingerprint}|{spec.key()}".encode()).hexdigest()[:20]
    path = cache_dir / "tokenizers" / f"word-{key}.json"
    if path.is_file():
        try:
            tokenizer = Tokenizer.from_file(str(path))
            return TextTokenizer(tokenizer=tokenizer, pad_id=tokenizer.token_to_id(PAD))
        except Exception:  # a damaged cache entry is rebuilt, not fatal
            path.unlink(missing_ok=True)
    trained = train_word_tokenizer(train, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{id(trained)}.part")
    trained.tokenizer.save(str(partial))
    partial.replace(path)  # atomic, so a concurrent reader never sees half a file
    return trained
