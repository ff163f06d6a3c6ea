"""Documents to predict, read from any input ``nlpclf.predict`` accepts, in input order.

A text file (one document per line), a folder (one document per file), a ``.jsonl`` or
``.csv`` file with a text column, or standard input (``-``, one document per line). A bad
document (an empty line, bytes that are not UTF-8, a jsonl line that is not JSON) becomes a
:class:`Document` with an ``error`` instead of a text, so prediction reports it and carries on
with the good ones instead of failing the whole input.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from nlpclf.errors import ConfigError, DataError

STDIN = "-"


@dataclass(frozen=True)
class Document:
    """One input document: ``id`` is its line or row number (from 1) or its path in a folder."""

    id: int | str
    text: str | None = None
    error: str | None = None


def read_documents(
    source: str, text_column: str = "text", stdin: BinaryIO | None = None
) -> list[Document]:
    """Every document of ``source``; raises :class:`DataError` when there are none at all."""
    if source == STDIN:
        origin = "standard input"
        documents = list(_lines((stdin or sys.stdin.buffer).read()))
    else:
        path = Path(source).expanduser()
        origin = f"'{path}'"
        if path.is_dir():
            documents = list(_folder(path))
        elif not path.is_file():
            raise DataError(
                f"The input '{path}' does not exist. Pass input=<text file with one document "
                "per line, folder of files, .jsonl or .csv file>, or input=- for standard input."
            )
        elif path.suffix.lower() == ".jsonl":
            documents = _jsonl(path, text_column)
        elif path.suffix.lower() == ".csv":
            documents = _csv(path, text_column)
        else:
            documents = list(_lines(path.read_bytes()))
    if not documents:
        raise DataError(
            f"The input {origin} is empty: it holds no documents. Give it at least one "
            "non-empty line (or file, or row)."
        )
    return documents


def _decode_line(number: int, raw: bytes, what: str = "line") -> Document:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"{exc.reason} at byte {exc.start}"
        return Document(number, error=f"{what} is not valid UTF-8 ({reason})")
    if not text.strip():
        return Document(number, error=f"empty {what}")
    return Document(number, text=text)


def _split_lines(raw: bytes) -> list[bytes]:
    raw = raw.removeprefix(codecs.BOM_UTF8)
    if not raw:
        return []
    lines = raw.split(b"\n")
    if lines[-1] == b"":  # the newline that ends the last line does not start another
        lines.pop()
    return [line.removesuffix(b"\r") for line in lines]


def _lines(raw: bytes) -> Iterator[Document]:
    for number, line in enumerate(_split_lines(raw), start=1):
        yield _decode_line(number, line)


def _folder(root: Path) -> Iterator[Document]:
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    for path in files:
        document = _decode_line(0, path.read_bytes(), what="file")
        yield Document(path.relative_to(root).as_posix(), document.text, document.error)


def _jsonl(path: Path, text_column: str) -> list[Document]:
    documents: list[Document] = []
    first_keys: list[str] | None = None
    column_seen = False
    for number, line in enumerate(_split_lines(path.read_bytes()), start=1):
        document = _decode_line(number, line)
        if document.error:
            documents.append(document)
            continue
        try:
            record = json.loads(document.text or "")
        except json.JSONDecodeError as exc:
            documents.append(Document(number, error=f"line is not valid JSON ({exc.msg})"))
            continue
        if not isinstance(record, dict):
            documents.append(Document(number, error="line is not a JSON object"))
            continue
        first_keys = sorted(record) if first_keys is None else first_keys
        column_seen = column_seen or text_column in record
        documents.append(_text_value(number, record.get(text_column), text_column))
    if first_keys is not None and not column_seen:
        raise ConfigError(
            f"No record of '{path}' has the text column '{text_column}'; the first record has "
            f"the keys {first_keys}. Name the right one with text_column=<key>."
        )
    return documents


def _csv(path: Path, text_column: str) -> list[Document]:
    # Undecodable bytes survive as surrogates, so one bad row is reported, not the whole file.
    text = path.read_bytes().decode("utf-8-sig", errors="surrogateescape")
    with _large_csv_fields():
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if reader.fieldnames is None:
            return []
        if text_column not in reader.fieldnames:
            raise ConfigError(
                f"The csv file '{path}' has no column '{text_column}'; its columns are "
                f"{reader.fieldnames}. Name the right one with text_column=<column>."
            )
        return [
            _text_value(number, row.get(text_column), text_column)
            for number, row in enumerate(reader, start=1)
        ]


def _text_value(number: int, value: object, text_column: str) -> Document:
    if value is None:
        return Document(number, error=f"record has no '{text_column}'")
    if not isinstance(value, str):
        return Document(number, error=f"'{text_column}' is a {type(value).__name__}, not text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return Document(number, error=f"'{text_column}' is not valid UTF-8")
    if not value.strip():
        return Document(number, error=f"empty '{text_column}'")
    return Document(number, text=value)


@contextlib.contextmanager
def _large_csv_fields() -> Iterator[None]:
    """Whole messages can exceed the csv module's 128 KiB field limit."""
    previous = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(previous)
