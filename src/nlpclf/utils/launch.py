"""Checks of how a run will be launched, before anything starts.

Lightning's DDP launcher starts the other ranks by re-running the command line. Under a Hydra
multirun that command line is the whole sweep, so every rank would run its own sweep and could
train with different hyperparameters (an Optuna sweep really does). nlpclf refuses that
combination; sweeps with one process per trial, or with ``ddp_spawn``, are safe.
"""

from __future__ import annotations

import logging
import os

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from nlpclf.errors import ConfigError
from nlpclf.utils.instantiate import to_plain

SAFE_START_METHODS = ("spawn", "fork", "forkserver")


def processes_per_node(trainer: DictConfig) -> int:
    devices = trainer.get("devices", 1)
    if isinstance(devices, int) and devices > 0:
        return devices
    if isinstance(devices, str) and devices.isdigit():
        return int(devices)
    if isinstance(to_plain(devices), list):
        return len(devices)
    if trainer.get("accelerator") in ("gpu", "cuda", "auto"):
        import torch

        return max(1, torch.cuda.device_count())
    return 1


def reruns_command_line(trainer: DictConfig) -> bool:
    """Whether Lightning will start the extra ranks by re-running ``sys.argv``."""
    world = processes_per_node(trainer) * int(trainer.get("num_nodes", 1) or 1)
    if world <= 1:
        return False
    strategy = to_plain(trainer.get("strategy", "auto"))
    if isinstance(strategy, dict):
        return strategy.get("start_method", "popen") not in SAFE_START_METHODS
    return not any(method in str(strategy) for method in SAFE_START_METHODS)


def check_launch(cfg: DictConfig, multirun: bool) -> None:
    trainer = cfg.trainer
    if multirun and reruns_command_line(trainer):
        raise ConfigError(
            "Hydra multirun with multi-process DDP (trainer.strategy that re-runs the command "
            "line) would make every DDP process run the whole sweep, so ranks could train "
            "with different hyperparameters. Sweep with trainer.devices=1 per trial, use "
            "trainer.strategy=ddp_spawn, or launch each trial as its own command."
        )
    devices = processes_per_node(trainer)
    if trainer.get("accelerator") == "cpu" and devices > (os.cpu_count() or 1):
        raise ConfigError(
            f"trainer.devices={devices} CPU processes exceed the {os.cpu_count()} cores here. "
            f"Use trainer.devices={os.cpu_count()} or fewer."
        )
    if trainer.get("accelerator") in ("gpu", "cuda"):
        import torch

        available = torch.cuda.device_count()
        if devices > available:
            raise ConfigError(
                f"trainer.devices={devices} GPUs were asked for, but {available} are visible. "
                f"Use trainer.devices={available}"
                + (" or trainer=cpu." if available else ", or trainer=cpu on this machine.")
            )
    precision = str(trainer.get("precision", "32-true"))
    if trainer.get("accelerator") == "cpu" and precision.startswith("16"):
        raise ConfigError(
            f"trainer.precision={precision} needs a GPU. On the CPU use "
            "trainer.precision=bf16-mixed (or 32-true)."
        )


def quiet_non_zero_ranks() -> None:
    """Only rank zero writes the run's log file; other ranks keep console warnings."""
    rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0)
    if rank == 0:
        return
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler):
            root.removeHandler(handler)
    root.setLevel(logging.WARNING)


class StopOnSigterm(Callback):
    """Stop within one step of a SIGTERM (preemption, ``kill``, a scheduler's time limit).

    Lightning notes the signal but, in a single process, only stops at the end of the epoch
    and then exits with status 0 as if training had finished. nlpclf stops after the current
    step; :func:`nlpclf.train.main` exits with status 143 and says how to resume from the last
    checkpoint.
    """

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.received_sigterm:
            raise SIGTERMException
