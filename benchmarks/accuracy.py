"""Accuracy of each model group's experiment config: test accuracy and macro-F1 on the bydate
split, both protocols, over several seeds, with the training time; then an ensemble.

Every run is the real command line (``python -m nlpclf.train experiment=...``) in a subprocess,
so what is measured is exactly what a user gets. Model selection happens inside training (best
validation epoch); the test split is read once per run. The ensemble has a fixed membership
(every checkpoint this benchmark trained for the protocol), so nothing is chosen on test.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import Row, Settings, command_line, run_command
from benchmarks.config import compose_train, experiment_overrides, path_overrides

PROTOCOLS = ("raw", "clean")
# (raw, clean) test-accuracy targets of the issue, per model group
TARGETS = {
    "resnet": (0.88, 0.75),
    "rnn": (0.87, 0.74),
    "transformer": (0.88, 0.76),
    "best": (0.90, 0.78),
}
# the residual CNN must also reach this (raw) within ten minutes of training
FAST_TARGET, FAST_SECONDS = 0.86, 600.0
# quick mode: a few steps of each, enough to exercise every command end to end
QUICK = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=10",
    "trainer.limit_val_batches=4",
    "trainer.limit_test_batches=4",
]
QUICK_MODEL = {"transformer": ["data.max_length=128"]}
# on a GPU machine every model trains there in bf16, as a user with one would run it
GPU = ["trainer=gpu", "trainer.precision=bf16-mixed"]


def gpu_available() -> bool:
    import torch

    return torch.cuda.is_available()


def train_args(
    settings: Settings, model: str, protocol: str, seed: int, run_dir: Path
) -> list[str]:
    args = [
        sys.executable,
        "-m",
        "nlpclf.train",
        *experiment_overrides(model),
        f"data.protocol={protocol}",
        f"seed={seed}",
        *path_overrides(settings),
        f"hydra.run.dir={run_dir}",
    ]
    if gpu_available():
        args += GPU
    if settings.quick:
        args += [*QUICK, *QUICK_MODEL.get(model, [])]
    return args


def train_runs(settings: Settings, model: str, protocol: str) -> list[dict[str, Any]]:
    """Train one seed after another; return each run's metrics and best checkpoint."""
    runs = []
    for seed in settings.seeds:
        run_dir = settings.work_dir / "accuracy" / f"{model}-{protocol}-seed{seed}"
        args = train_args(settings, model, protocol, seed, run_dir)
        # a fresh folder: checkpoints an earlier benchmark left there would be taken for this
        # run's (Lightning names the new ones epoch_003-v1.ckpt beside them)
        shutil.rmtree(run_dir, ignore_errors=True)
        wall, _ = run_command(args, run_dir.with_suffix(".log"))
        metrics = json.loads((run_dir / "metrics.json").read_text())
        runs.append(
            {
                "seed": seed,
                "metrics": metrics,
                "wall_seconds": wall,
                "checkpoint": best_checkpoint(run_dir, metrics),
                "command": command_line(args),
            }
        )
    return runs


def best_checkpoint(run_dir: Path, metrics: dict[str, Any]) -> str:
    """The checkpoint of the best validation epoch, which the run tested."""
    epoch = int(metrics["best_checkpoint_epoch"])
    path = run_dir / "checkpoints" / f"epoch_{epoch:03d}.ckpt"
    if not path.is_file():
        raise RuntimeError(f"The run in {run_dir} has no checkpoint of its best epoch ({path}).")
    return str(path)


def summarize(model: str, protocol: str, runs: list[dict[str, Any]], quick: bool) -> Row:
    accs = [r["metrics"]["test/acc"] for r in runs]
    f1s = [r["metrics"]["test/f1_macro"] for r in runs]
    fits = [r["metrics"].get("time/fit_seconds", float("nan")) for r in runs]
    target = TARGETS[model][PROTOCOLS.index(protocol)]
    mean = statistics.fmean(accs)
    return Row(
        section="accuracy",
        name=f"{model}, {protocol}",
        figures={
            "test_acc_mean": round(mean, 4),
            "test_acc_std": round(statistics.stdev(accs), 4) if len(accs) > 1 else None,
            "test_f1_macro_mean": round(statistics.fmean(f1s), 4),
            "seeds": len(runs),
            "test_acc_per_seed": [round(a, 4) for a in accs],
            "val_acc_best_mean": round(
                statistics.fmean(r["metrics"]["val/acc_best"] for r in runs), 4
            ),
            "train_minutes_mean": round(statistics.fmean(fits) / 60, 1),
        },
        command=_seed_command(runs),
        target=f">= {target}",
        met=None if quick else mean >= target,
        note="quick mode: 10 steps, test on its first 4 batches only: not judged" if quick else "",
        extra={"checkpoints": [r["checkpoint"] for r in runs]},
    )


def fast_resnet_row(runs: list[dict[str, Any]], quick: bool) -> Row:
    """The residual CNN's accuracy within ten minutes of training, from the raw runs."""
    fits = [r["metrics"].get("time/fit_seconds", float("inf")) for r in runs]
    accs = [r["metrics"]["test/acc"] for r in runs]
    mean, longest = statistics.fmean(accs), max(fits)
    return Row(
        section="speed",
        name="resnet >= 0.86 (raw) within 10 minutes of training",
        figures={
            "test_acc_mean": round(mean, 4),
            "train_minutes_max": round(longest / 60, 1),
            "seeds": len(runs),
        },
        command=_seed_command(runs),
        target=f">= {FAST_TARGET} in <= {FAST_SECONDS / 60:.0f} min",
        met=None if quick else (mean >= FAST_TARGET and longest <= FAST_SECONDS),
        note="training time = Lightning's fit (training and validation epochs)",
    )


def ensemble_row(settings: Settings, protocol: str, checkpoints: list[str]) -> Row:
    """All of this run's checkpoints for the protocol, averaged by ``nlpclf.eval``."""
    out_dir = settings.work_dir / "accuracy" / f"ensemble-{protocol}"
    args = [
        sys.executable,
        "-m",
        "nlpclf.eval",
        f"ckpt_path=[{','.join(checkpoints)}]",
        f"data.protocol={protocol}",
        *path_overrides(settings),
        f"output_dir={out_dir}",
        "progress=false",
        f"hydra.run.dir={out_dir / 'hydra'}",
    ]
    if settings.quick:
        args.append("limit=500")
    run_command(args, out_dir.with_suffix(".log"))
    report = json.loads((out_dir / "eval-ensemble-test.json").read_text())
    scores = report["models"]["ensemble"]
    target = TARGETS["best"][PROTOCOLS.index(protocol)]
    acc = scores["accuracy"]
    return Row(
        section="accuracy",
        name=f"best nlpclf: ensemble of {len(checkpoints)} checkpoints, {protocol}",
        figures={
            "test_acc": round(acc, 4),
            "test_f1_macro": round(scores["f1_macro"], 4),
            "members": len(checkpoints),
            "examples": report["num_examples"],
        },
        command=command_line(args),
        target=f">= {target}",
        met=None if settings.quick else acc >= target,
        note="members fixed in advance: every checkpoint trained above for this protocol",
    )


def _seed_command(runs: list[dict[str, Any]]) -> str:
    seeds = ",".join(str(r["seed"]) for r in runs)
    return runs[0]["command"].replace(f"seed={runs[0]['seed']}", f"seed={{{seeds}}}")


def run(settings: Settings, model: str, protocol: str) -> list[Row]:
    """The model's experiment config over the seeds, for one protocol."""
    runs = train_runs(settings, model, protocol)
    rows = [summarize(model, protocol, runs, settings.quick)]
    if model == "resnet" and protocol == "raw":
        rows.append(fast_resnet_row(runs, settings.quick))
    if model == "transformer" and gpu_available():
        rows.append(gpu_epoch_row(settings, protocol, runs))
    return rows


def gpu_epoch_row(settings: Settings, protocol: str, runs: list[dict[str, Any]]) -> Row:
    """MiniLM fine-tuning on the GPU in bf16: the time of one epoch and the accuracy reached."""
    best_epochs = [r["metrics"].get("best_checkpoint_epoch", 0) for r in runs]
    fits = [r["metrics"].get("time/fit_seconds", float("nan")) for r in runs]
    command = _seed_command(runs)
    cfg = compose_train(settings, *experiment_overrides("transformer"))
    max_epochs = 1 if settings.quick else int(cfg.trainer.max_epochs)
    return Row(
        section="gpu",
        name=f"MiniLM fine-tuning, bf16 (GPU), {protocol}",
        figures={
            "epoch_seconds": round(statistics.fmean(fits) / max_epochs, 1),
            "test_acc_mean": round(statistics.fmean(r["metrics"]["test/acc"] for r in runs), 4),
            "epochs": max_epochs,
            "best_epoch_mean": statistics.fmean(best_epochs),
        },
        command=command,
        target="epoch time and accuracy",
        met=None,
        note="epoch time = Lightning's fit time (training and validation) / epochs",
    )
