"""Train and test one model: ``python -m nlpclf.train [overrides]``.

``train(cfg)`` is a plain function (tests and notebooks call it directly); ``main`` is the thin
Hydra wrapper that composes the config from ``conf/`` and reports user errors readably.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from nlpclf.resume import resolve_resume
from nlpclf.utils.cli import config_dir, user_errors_reported
from nlpclf.utils.instantiate import instantiate_component, instantiate_many, to_plain
from nlpclf.utils.launch import StopOnSigterm, check_launch, quiet_non_zero_ranks
from nlpclf.utils.reporting import print_config_tree, report_metrics

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit, then test the best checkpoint; return every final metric as a float."""
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = resolve_resume(cfg, output_dir)

    datamodule = instantiate_component(cfg.data, "data")
    model = instantiate_component(
        cfg.model, "model", optimizer=to_plain(cfg.optimizer), scheduler=to_plain(cfg.scheduler)
    )
    # the Timer's state travels in checkpoints, so a resumed run reports its total fit time
    timer = Timer()
    callbacks = [*instantiate_many(cfg.get("callbacks"), "callbacks"), StopOnSigterm(), timer]
    loggers = instantiate_many(cfg.get("logger"), "logger")
    trainer: L.Trainer = instantiate_component(
        cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False
    )

    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    metrics = _floats(trainer.callback_metrics)
    metrics["time/fit_seconds"] = timer.time_elapsed("train")

    if cfg.get("test"):
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if not best:
            log.warning("No best checkpoint was saved; testing the current weights.")
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None, weights_only=True)
        metrics.update(_floats(trainer.callback_metrics))
        if best:
            metrics["best_checkpoint_epoch"] = float(_epoch_of(best))

    _log_final_hparams(loggers, cfg, model, metrics)
    report_metrics(metrics, save_dir=output_dir)
    return metrics


def _floats(values: dict) -> dict[str, float]:
    return {name: float(value) for name, value in values.items()}


def _epoch_of(checkpoint_path: str) -> int:
    import torch

    return int(torch.load(checkpoint_path, map_location="cpu", weights_only=True)["epoch"])


def _log_final_hparams(
    loggers: list, cfg: DictConfig, model: L.LightningModule, metrics: dict[str, float]
) -> None:
    """Write the HParams tab with the run's real final metrics (no placeholder values)."""
    hparams = {
        "model": {k: v for k, v in model.hparams.items() if k != "label_names"},
        "data": to_plain(cfg.data),
        "trainer": to_plain(cfg.trainer),
        "seed": cfg.get("seed"),
    }
    final = {
        f"hp/{name.replace('/', '_')}": value
        for name, value in metrics.items()
        if name.startswith(("val/", "test/"))
    }
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(hparams, metrics=final)


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def main(cfg: DictConfig) -> float | None:
    quiet_non_zero_ranks()
    with user_errors_reported():
        check_launch(cfg, multirun=HydraConfig.get().mode == RunMode.MULTIRUN)
        if cfg.get("print_config"):
            print_config_tree(cfg, save_dir=Path(cfg.paths.output_dir))
        try:
            metrics = train(cfg)
        except SIGTERMException:
            print(
                "Training stopped by SIGTERM. Resume it with ckpt_path=last (the same task) or "
                f"ckpt_path={Path(cfg.paths.output_dir) / 'checkpoints' / 'last.ckpt'}.",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(143) from None
    optimized = cfg.get("optimized_metric")
    return metrics.get(optimized) if optimized else None


if __name__ == "__main__":
    main()
