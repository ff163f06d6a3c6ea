"""Label new documents: ``python -m nlpclf.predict ckpt_path=… input=… [output=…] [top_k=…]``.

``predict(cfg)`` is a plain function; ``main`` is the thin Hydra wrapper. The output is one JSON
line per input document, in input order: the predicted label, its probability and the
``top_k`` best labels, or an ``error`` for a document that could not be read (an empty line,
bytes that are not UTF-8). Bad documents are also reported on stderr and never stop the good
ones. Results go to ``output`` or to stdout; messages and the progress bar go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import hydra
from omegaconf import DictConfig

from nlpclf.data.documents import Document, read_documents
from nlpclf.errors import ConfigError, DataError
from nlpclf.inference import Predictor, checkpoint_paths, set_threads
from nlpclf.utils.cli import config_dir, user_errors_reported
from nlpclf.utils.files import atomic_path

MAX_REPORTED = 20


def predict(cfg: DictConfig, stdin: Any = None, stdout: TextIO | None = None) -> dict[str, Any]:
    """Predict every document of ``cfg.input``; return counts and throughput."""
    paths = checkpoint_paths(cfg.get("ckpt_path"))
    if len(paths) != 1:
        raise ConfigError(
            f"nlpclf.predict takes one checkpoint, got {len(paths)}. Pass ckpt_path=/path/to.ckpt "
            "(ensembles are evaluated with nlpclf.eval)."
        )
    if cfg.get("input") is None:
        raise ConfigError("Pass the documents with input=<file, folder, .jsonl, .csv> or input=-.")
    set_threads(cfg.get("threads"))
    predictor = Predictor.from_checkpoint(paths[0])
    top_k = cfg.get("top_k", 1)
    predictor.check_top_k(top_k)  # before reading a large input, not after
    documents = read_documents(str(cfg.input), str(cfg.get("text_column", "text")), stdin)
    good = [d for d in documents if d.error is None]
    bad = [d for d in documents if d.error is not None]
    report_skipped(bad)
    if not good:
        raise DataError(
            f"None of the {len(documents)} documents of the input can be classified (input "
            f"{bad[0].id}: {bad[0].error}). Give non-empty, UTF-8 encoded documents."
        )

    started = time.perf_counter()
    predictions = predictor.predict(
        [d.text or "" for d in good],
        top_k=top_k,
        batch_size=int(cfg.get("batch_size", 32)),
        progress=bool(cfg.get("progress", True)),
    )
    seconds = time.perf_counter() - started
    records = output_records(documents, predictions)
    output = cfg.get("output")
    if output:
        with (
            atomic_path(Path(output).expanduser()) as partial,
            open(partial, "w", encoding="utf-8") as handle,
        ):
            write_lines(records, handle)
    else:
        write_lines(records, stdout or sys.stdout)
    rate = len(good) / max(seconds, 1e-9)
    print(
        f"Predicted {len(good)} documents in {seconds:.2f} s ({rate:.0f} documents/s); "
        f"skipped {len(bad)}.",
        file=sys.stderr,
    )
    return {
        "predicted": len(good),
        "skipped": len(bad),
        "seconds": seconds,
        "documents_per_second": rate,
        "output": str(output) if output else None,
    }


def output_records(
    documents: list[Document], predictions: list[dict[str, Any]]
) -> Iterable[dict[str, Any]]:
    """Predictions (for the good documents, in order) merged back among the error records."""
    remaining = iter(predictions)
    for document in documents:
        if document.error is None:
            yield {"id": document.id, **next(remaining)}
        else:
            yield {"id": document.id, "error": document.error}


def write_lines(records: Iterable[dict[str, Any]], handle: TextIO) -> None:
    for record in records:
        handle.write(json.dumps(record) + "\n")  # ASCII: safe in any locale or pipe
    handle.flush()


def report_skipped(bad: list[Document]) -> None:
    for document in bad[:MAX_REPORTED]:
        print(f"warning: skipped input {document.id}: {document.error}", file=sys.stderr)
    if len(bad) > MAX_REPORTED:
        print(
            f"warning: skipped {len(bad) - MAX_REPORTED} more bad documents (see the output's "
            "error records).",
            file=sys.stderr,
        )


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="predict")
def main(cfg: DictConfig) -> None:
    with user_errors_reported():
        try:
            predict(cfg)
        except BrokenPipeError:  # the reader stopped early (`... | head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    main()
