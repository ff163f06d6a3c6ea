"""Scale: prepare a large synthetic corpus through the data module and stream one epoch.

The probe runs in a process of its own, so its peak resident memory is the pipeline's alone;
it runs at two corpus sizes to show that memory stays flat as the corpus grows (Arrow files
are memory-mapped; nothing holds the corpus in Python objects).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from benchmarks.common import Row, Settings, command_line, peak_rss_mb, run_command

TOKENIZE_TARGET, RSS_TARGET_MB = 10_000.0, 4096.0
SIZES = {"full": (100_000, 1_000_000), "quick": (5_000, 20_000)}


def probe(corpus: Path, cache_dir: Path, output: Path) -> None:
    """Build the data module on the corpus, then read every training batch once."""
    import psutil
    import torch

    from nlpclf.data import FileSource, TextDataModule

    torch.set_num_threads(1)
    process = psutil.Process()
    source = FileSource(str(corpus / "train.parquet"), str(corpus / "test.parquet"))
    datamodule = TextDataModule(source, str(cache_dir), max_length=512, batch_size=64)
    started = time.perf_counter()
    datamodule.prepare_data()
    prepared = time.perf_counter() - started
    after_prepare = peak_rss_mb()
    assert datamodule.splits is not None
    tokenized = sum(len(split) for split in datamodule.splits.values())
    started = time.perf_counter()
    documents, tokens, rss = 0, 0, []
    for index, batch in enumerate(datamodule.train_dataloader()):
        documents += len(batch["labels"])
        tokens += int(batch["attention_mask"].sum())
        if index % 500 == 0:
            rss.append(process.memory_info().rss / 2**20)
    epoch = time.perf_counter() - started
    result = {
        "train_documents": len(datamodule.splits["train"]),
        "tokenized_documents": tokenized,
        "prepare_s": prepared,
        "phases_s": datamodule.timings,
        "tokenize_docs_per_s": tokenized / datamodule.timings["tokenize"],
        "epoch_documents": documents,
        "epoch_tokens": tokens,
        "epoch_s": epoch,
        "epoch_docs_per_s": documents / epoch,
        "peak_rss_mb_after_prepare": after_prepare,
        "peak_rss_mb": peak_rss_mb(),
        "rss_mb_during_epoch": [round(r) for r in rss],
    }
    output.write_text(json.dumps(result, indent=2))


def measure(settings: Settings, docs: int) -> dict:
    folder = settings.work_dir / "scale"
    corpus, cache = folder / f"corpus-{docs}", folder / f"cache-{docs}"
    log_dir = folder / "logs"
    if not (corpus / "train.parquet").is_file():
        generate = [sys.executable, "-m", "benchmarks.synthetic", "--docs", str(docs),
                    "--out", str(corpus)]  # fmt: skip
        run_command(generate, log_dir / f"generate-{docs}.log")
    shutil.rmtree(cache, ignore_errors=True)  # cold: every step of the pipeline runs
    output = folder / f"probe-{docs}.json"
    args = [sys.executable, "-m", "benchmarks.scale", "--corpus", str(corpus),
            "--cache", str(cache), "--output", str(output)]  # fmt: skip
    run_command(args, log_dir / f"probe-{docs}.log")
    shutil.rmtree(cache, ignore_errors=True)  # gigabytes of Arrow, no longer needed
    return json.loads(output.read_text())


def run(settings: Settings) -> list[Row]:
    small, large = SIZES["quick" if settings.quick else "full"]
    results = {docs: measure(settings, docs) for docs in (small, large)}
    big = results[large]
    command = command_line([sys.executable, "-m", "benchmarks.run", "--only", "scale"])
    return [
        Row(
            section="scale",
            name=f"synthetic corpus, {docs:,} training documents",
            figures={
                "tokenize_docs_per_s": round(r["tokenize_docs_per_s"]),
                "peak_rss_mb": round(r["peak_rss_mb"]),
                "prepare_s": round(r["prepare_s"], 1),
                **{f"{k.replace(' ', '_')}_s": round(v, 1) for k, v in r["phases_s"].items()},
                "epoch_s": round(r["epoch_s"], 1),
                "epoch_docs_per_s": round(r["epoch_docs_per_s"]),
                "rss_mb_during_epoch": r["rss_mb_during_epoch"][
                    :: max(1, len(r["rss_mb_during_epoch"]) // 8)
                ],
            },
            command=command,
            target=(
                f"tokenize >= {TOKENIZE_TARGET:,.0f} docs/s, peak RSS < {RSS_TARGET_MB:,.0f} MB"
                if r is big
                else ""
            ),
            met=(
                None
                if r is not big or settings.quick
                else r["tokenize_docs_per_s"] >= TOKENIZE_TARGET
                and r["peak_rss_mb"] < RSS_TARGET_MB
            ),
            note="cold cache; one process; word vocabulary, max_length 512, batch 64",
        )
        for docs, r in results.items()
    ]


def _thin(values: list, keep: int) -> list:
    return values[:: max(1, len(values) // keep)]


def main() -> None:
    parser = argparse.ArgumentParser(description="One scale probe (run by benchmarks.run).")
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    probe(args.corpus, args.cache, args.output)


if __name__ == "__main__":
    main()
