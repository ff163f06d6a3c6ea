"""Learning-rate schedules that need the run's length, which only the Trainer knows."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from nlpclf.errors import ConfigError

DECAYS = ("linear", "cosine", "constant")


def warmup_schedule(
    optimizer: Optimizer,
    num_training_steps: int,
    warmup_ratio: float = 0.0,
    decay: str = "linear",
    min_lr_ratio: float = 0.0,
) -> LambdaLR:
    """Linear warm-up over ``warmup_ratio`` of the steps, then linear/cosine decay or constant.

    ``num_training_steps`` is filled in by the classifier from
    ``trainer.estimated_stepping_batches``, so the schedule follows ``max_epochs``,
    ``limit_train_batches``, gradient accumulation and the number of devices.
    """
    if decay not in DECAYS:
        raise ConfigError(f"Invalid scheduler.decay={decay!r}: choose one of {DECAYS}.")
    if not 0.0 <= warmup_ratio < 1.0:
        raise ConfigError(f"Invalid scheduler.warmup_ratio={warmup_ratio}: expected [0, 1).")
    total = max(1, int(num_training_steps))
    warmup = int(total * warmup_ratio)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if decay == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        shape = 1.0 - progress if decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
        return min_lr_ratio + (1.0 - min_lr_ratio) * shape

    return LambdaLR(optimizer, factor)
