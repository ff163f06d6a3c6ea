"""References measured in the same run, for comparison only.

* scikit-learn: TF-IDF (word 1-2-grams, sublinear tf) with LinearSVC and with ComplementNB,
  trained on exactly the documents nlpclf trains on (the training split less its validation
  part, after the same protocol) and scored once on the test split. Their one regularisation
  setting each is chosen on the validation part, as nlpclf's configurations are.
* A plain PyTorch training loop (no Lightning) over the same residual CNN ``nn.Module``, the
  same optimizer and the same batches as ``nlpclf.train``: the ratio of the two training
  throughputs shows what the framework costs.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import hydra
import lightning as L
import torch
import torch.nn.functional as F

from benchmarks.common import Row, Settings, command_line
from benchmarks.config import compose_train, experiment_overrides

SVC_C = (0.3, 1.0, 3.0)
NB_ALPHA = (0.01, 0.03, 0.1, 0.3, 1.0)
# quick mode keeps every QUICK_STRIDE-th document of each split: plumbing, not accuracy
QUICK_STRIDE = 5
RATIO_TARGET = 0.97


class StepTimer(L.Callback):
    """Times training steps inside Lightning, from the start of step ``skip`` to the end of
    the last step (as the plain loop is timed; epoch-end work such as checkpoints is not)."""

    def __init__(self, output: str, skip: int = 5) -> None:
        self.output, self.skip = output, skip
        self.started: float | None = None
        self.ended = 0.0
        self.samples = 0

    def on_train_batch_start(self, trainer: L.Trainer, module, batch, batch_idx: int) -> None:
        if batch_idx == self.skip:
            self.started = time.perf_counter()
        if batch_idx >= self.skip:
            self.samples += len(batch["labels"])

    def on_train_batch_end(self, trainer: L.Trainer, module, outputs, batch, batch_idx) -> None:
        self.ended = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, module) -> None:
        if self.started is not None:
            seconds = self.ended - self.started
            Path(self.output).write_text(json.dumps({"samples": self.samples, "seconds": seconds}))


def sklearn_references(settings: Settings, protocol: str) -> list[Row]:
    """TF-IDF + LinearSVC and + ComplementNB on nlpclf's own splits of one protocol."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.naive_bayes import ComplementNB
    from sklearn.svm import LinearSVC

    splits = _text_splits(settings, protocol)
    if settings.quick:
        splits = {k: (x[::QUICK_STRIDE], y[::QUICK_STRIDE]) for k, (x, y) in splits.items()}
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x_train = vectorizer.fit_transform(splits["train"][0])
    x_val, x_test = (vectorizer.transform(splits[s][0]) for s in ("validation", "test"))
    prepared = time.perf_counter() - started
    y_train, y_val, y_test = (splits[s][1] for s in ("train", "validation", "test"))

    rows = []
    for name, make, grid, knob in (
        ("TF-IDF + LinearSVC", lambda v: LinearSVC(C=v), SVC_C, "C"),
        ("TF-IDF + ComplementNB", lambda v: ComplementNB(alpha=v), NB_ALPHA, "alpha"),
    ):
        grid = grid[-1:] if settings.quick else grid
        fit_started = time.perf_counter()
        scores = {
            v: accuracy_score(y_val, make(v).fit(x_train, y_train).predict(x_val)) for v in grid
        }
        best = max(grid, key=lambda v: (scores[v], -grid.index(v)))
        model = make(best).fit(x_train, y_train)
        predicted = model.predict(x_test)
        rows.append(
            Row(
                section="references",
                name=f"{name}, {protocol}",
                figures={
                    "test_acc": round(accuracy_score(y_test, predicted), 4),
                    "test_f1_macro": round(f1_score(y_test, predicted, average="macro"), 4),
                    knob: best,
                    "val_acc": round(scores[best], 4),
                    "train_docs": len(y_train),
                    "seconds": round(prepared + time.perf_counter() - fit_started, 1),
                },
                command=command_line(
                    [sys.executable, "-m", "benchmarks.run", "--only", "references"]
                ),
                note=f"{knob} chosen on validation from {list(grid)}"
                + (f"; quick mode: every {QUICK_STRIDE}th document" if settings.quick else ""),
            )
        )
    return rows


def _text_splits(settings: Settings, protocol: str) -> dict[str, tuple[list[str], list[int]]]:
    """The texts and labels nlpclf itself uses for this protocol (same split, same seed)."""
    from nlpclf.utils.instantiate import instantiate_component

    cfg = compose_train(settings, f"data.protocol={protocol}")
    datamodule = instantiate_component(cfg.data, "data")
    datamodule.prepare_data()
    assert datamodule.splits is not None
    return {name: (list(ds["text"]), list(ds["label"])) for name, ds in datamodule.splits.items()}


def throughput_ratio(
    settings: Settings, steps: int, repeats: int, extra: tuple[str, ...] = ()
) -> Row:
    """nlpclf's training samples/s over the plain loop's, same model, optimizer and batches.

    Both are timed from the start of step ``skip`` to the end of the last step, and run in
    turn (plain, nlpclf, plain, ...) so that a slow phase of the machine hits both; the
    median of the repeats is compared.
    """
    overrides = [
        *experiment_overrides("resnet"),
        f"trainer.limit_train_batches={steps}",
        "trainer.limit_val_batches=0",
        "callbacks.early_stopping=null",  # it needs validation metrics, which are off here
        "trainer.max_epochs=1",
        "test=false",
        "print_config=false",
        *extra,
    ]
    plain, framework = [], []
    for _ in range(repeats):
        plain.append(_plain_loop(settings, overrides, steps))
        framework.append(_lightning_loop(settings, overrides))
    ratio = statistics.median(framework) / statistics.median(plain)
    return Row(
        section="speed",
        name="training throughput, nlpclf / plain PyTorch (resnet)",
        figures={
            "ratio": round(ratio, 3),
            "nlpclf_samples_per_s": round(statistics.median(framework), 1),
            "plain_samples_per_s": round(statistics.median(plain), 1),
            "steps": steps,
            "repeats": repeats,
        },
        command=command_line([sys.executable, "-m", "benchmarks.run", "--only", "throughput"]),
        target=f">= {RATIO_TARGET}",
        met=ratio >= RATIO_TARGET,
        note="median samples/s of each; nlpclf with its default callbacks and logger",
    )


def _lightning_loop(settings: Settings, overrides: list[str]) -> float:
    from nlpclf.train import train

    output = settings.work_dir / "throughput-steps.json"
    output.unlink(missing_ok=True)
    cfg = compose_train(
        settings,
        *overrides,
        f"+callbacks.step_timer._target_={StepTimer.__module__}.StepTimer",
        f"+callbacks.step_timer.output={output}",
        run_dir=settings.work_dir / "throughput-run",
    )
    train(cfg)
    timed = json.loads(output.read_text())
    return timed["samples"] / timed["seconds"]


def _plain_loop(settings: Settings, overrides: list[str], steps: int, skip: int = 5) -> float:
    """The same model and batches trained by hand: forward, loss, backward, clip, step."""
    from nlpclf.utils.instantiate import instantiate_component, to_plain

    cfg = compose_train(settings, *overrides)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate_component(cfg.data, "data")
    datamodule.prepare_data()
    model = instantiate_component(
        cfg.model,
        "model",
        optimizer=to_plain(cfg.optimizer),
        scheduler=to_plain(cfg.scheduler),
        num_classes=datamodule.num_classes,
        vocab_size=datamodule.vocab_size,
        pad_id=datamodule.pad_id,
    )
    model.train()
    encoder, head = model.encoder, model.head
    optimizer = hydra.utils.instantiate(cfg.optimizer)(model.parameter_groups())
    scheduler = hydra.utils.instantiate(cfg.scheduler)(optimizer, num_training_steps=steps)
    clip = float(cfg.trainer.gradient_clip_val)
    loader = datamodule.train_dataloader()
    loader.sampler.set_epoch(0)
    samples, started = 0, None
    for index, batch in enumerate(loader):
        if index == steps:
            break
        if index == skip:
            started = time.perf_counter()
        if index >= skip:
            samples += len(batch["labels"])
        logits = head(encoder(batch["input_ids"], batch["attention_mask"]))
        loss = F.cross_entropy(logits, batch["labels"])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        scheduler.step()
    assert started is not None, "too few steps to time"
    return samples / (time.perf_counter() - started)


def run(settings: Settings) -> list[Row]:
    return [row for p in settings.protocols for row in sklearn_references(settings, p)]
