"""Write files so that a reader never sees half of one: a temporary sibling, then a rename."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success.

    An exception (an export that fails its check, a full disk, Ctrl-C) deletes the temporary
    file and leaves whatever was at ``target`` before untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # a fresh unique name, created by the writer itself so it gets the usual permissions
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        yield partial
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def write_text_atomic(target: str | Path, text: str) -> Path:
    with atomic_path(target) as partial:
        partial.write_text(text, encoding="utf-8")
    return Path(target)
