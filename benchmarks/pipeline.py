"""The data pipeline: read + protocol + split + vocabulary + tokenize the whole corpus, from a
cold cache and from a warm one; and the time from typing the train command to its first step.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch

from benchmarks.common import Row, Settings, command_line, run_command
from benchmarks.config import compose_train, experiment_overrides, path_overrides

COLD_TARGET, WARM_TARGET, FIRST_STEP_TARGET = 15.0, 2.0, 20.0


class FirstStep(L.Callback):
    """Writes the wall-clock time at which the first training step starts."""

    def __init__(self, output: str) -> None:
        self.output = output

    def on_train_batch_start(self, trainer: L.Trainer, module, batch, batch_idx: int) -> None:
        if batch_idx == 0 and not Path(self.output).exists():
            Path(self.output).write_text(json.dumps({"time": time.time()}))


def prepare_once(settings: Settings, cache_dir: Path, protocol: str) -> tuple[float, dict]:
    """Seconds for the data module to have every split tokenized, and its phase timings.

    Measured in a fresh process, as a user's run is: a process that has forked (this runner
    starts many commands) gets the tokenizers library's parallelism switched off.
    """
    output = settings.work_dir / "prepare.json"
    args = [
        sys.executable, "-m", "benchmarks.pipeline", "--protocol", protocol,
        "--cache-dir", str(cache_dir), "--data-dir", settings.data_dir, "--output", str(output),
    ]  # fmt: skip
    run_command(args, settings.work_dir / f"prepare-{protocol}.log")
    measured = json.loads(output.read_text())
    return measured["seconds"], measured["phases"]


def _prepare(protocol: str, cache_dir: str, data_dir: str, output: Path) -> None:
    from nlpclf.utils.instantiate import instantiate_component

    settings = Settings(False, [], [], data_dir, cache_dir, output.parent)
    cfg = compose_train(settings, *experiment_overrides("resnet"), f"data.protocol={protocol}")
    datamodule = instantiate_component(cfg.data, "data")
    started = time.perf_counter()
    datamodule.prepare_data()
    seconds = time.perf_counter() - started
    output.write_text(json.dumps({"seconds": seconds, "phases": datamodule.timings}))


def preparation_rows(settings: Settings) -> list[Row]:
    rows = []
    for protocol in ("raw", "clean"):
        cache = settings.work_dir / "pipeline-cache"
        shutil.rmtree(cache, ignore_errors=True)
        cold, phases = prepare_once(settings, cache, protocol)
        warm, _ = prepare_once(settings, cache, protocol)
        rows.append(
            Row(
                section="speed",
                name=f"whole-corpus preparation, {protocol} (cold / warm cache)",
                figures={
                    "cold_s": round(cold, 1),
                    "warm_s": round(warm, 2),
                    **{f"cold_{k.replace(' ', '_')}_s": round(v, 1) for k, v in phases.items()},
                },
                command=command_line(
                    [sys.executable, "-m", "benchmarks.run", "--only", "pipeline"]
                ),
                target=f"<= {COLD_TARGET:.0f} s cold, <= {WARM_TARGET:.0f} s warm",
                met=cold <= COLD_TARGET and warm <= WARM_TARGET,
                note="18,846 documents: read from the archive, protocol, stratified split, "
                "vocabulary, tokenize, all cached as Arrow",
            )
        )
    return rows


def first_step_row(settings: Settings) -> Row:
    """Command start to first training step, with the shared (warm) cache, as users run it."""
    marker = settings.work_dir / "first-step.json"
    run_dir = settings.work_dir / "first-step-run"
    args = [
        sys.executable,
        "-m",
        "nlpclf.train",
        *experiment_overrides("resnet"),
        *path_overrides(settings),
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=2",
        "test=false",
        f"hydra.run.dir={run_dir}",
        f"+callbacks.first_step._target_={FirstStep.__module__}.FirstStep",
        f"+callbacks.first_step.output={marker}",
    ]
    prepare_once(settings, Path(settings.cache_dir), "raw")  # warm, like any second run
    marker.unlink(missing_ok=True)
    started = time.time()
    run_command(args, run_dir.with_suffix(".log"))
    seconds = json.loads(marker.read_text())["time"] - started
    return Row(
        section="speed",
        name="command start to first training step (resnet, warm cache)",
        figures={"seconds": round(seconds, 1)},
        command=command_line(args[:4]),
        target=f"<= {FIRST_STEP_TARGET:.0f} s",
        met=seconds <= FIRST_STEP_TARGET,
        note="includes interpreter start, imports, config, data from cache, model build and "
        "Lightning's 2 sanity validation steps",
    )


def padding_ratio(lengths: Sequence[int], order: Sequence[int], batch_size: int) -> float:
    """Positions computed (each batch padded to its longest document) per real token."""
    padded = real = 0
    for start in range(0, len(order), batch_size):
        batch = [lengths[i] for i in order[start : start + batch_size]]
        padded += max(batch) * len(batch)
        real += sum(batch)
    return padded / real


def padding_row(settings: Settings, extra: Sequence[str] = ()) -> Row:
    """How much of a training epoch is padding: the datamodule's own (length-grouped) order
    against a random one over the same tokenized training split and batch size.

    Grouping sorts within mega-batches of up to 50 batches, and of one batch when the corpus
    holds fewer than 4 batches, where it cannot help."""
    from nlpclf.data.datamodule import INPUT_IDS
    from nlpclf.data.samplers import token_lengths
    from nlpclf.utils.instantiate import instantiate_component

    cfg = compose_train(settings, *experiment_overrides("resnet"), *extra)
    datamodule = instantiate_component(cfg.data, "data")
    datamodule.prepare_data()
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    lengths = token_lengths(datamodule.splits["train"], INPUT_IDS)
    shuffled = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).tolist()
    return Row(
        section="speed",
        name="training batches: positions per real token (resnet, raw)",
        figures={
            "length_grouped": round(
                padding_ratio(lengths, list(loader.sampler), loader.batch_size), 3
            ),
            "random": round(padding_ratio(lengths, shuffled, loader.batch_size), 3),
        },
        command=command_line([sys.executable, "-m", "benchmarks.run", "--only", "pipeline"]),
        note=f"{len(lengths):,} training documents in batches of {loader.batch_size}, each "
        f"padded to its longest (max_length {cfg.data.max_length}); data.group_by_length "
        "(the default) against a shuffled order",
    )


def run(settings: Settings) -> list[Row]:
    return [*preparation_rows(settings), first_step_row(settings), padding_row(settings)]


def main() -> None:
    parser = argparse.ArgumentParser(description="One data preparation (run by benchmarks.run).")
    parser.add_argument("--protocol", required=True)
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    _prepare(args.protocol, args.cache_dir, args.data_dir, args.output)


if __name__ == "__main__":
    main()
