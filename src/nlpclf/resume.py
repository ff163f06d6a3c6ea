"""Resuming a run: find the checkpoint, and refuse one that belongs to another setup.

``ckpt_path=last`` resumes the newest run of the same task (Hydra's run folder is already that
run's, see :func:`nlpclf.utils.cli.run_dir`); an explicit path resumes that checkpoint. Lightning
restores weights, optimizer, scheduler, epoch and loop state; :class:`TextClassifier` restores
the random states, so the resumed run continues exactly where the last checkpoint left off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from nlpclf.artifacts import ARTIFACTS_KEY, read_checkpoint
from nlpclf.errors import ConfigError
from nlpclf.utils.instantiate import to_plain

# data settings that change the network's input: a checkpoint trained with others cannot resume
DATA_KEYS = (
    "protocol",
    "max_length",
    "vocab_size",
    "min_frequency",
    "lowercase",
    "pretrained_tokenizer",
)


def resolve_resume(cfg: DictConfig, output_dir: Path) -> str | None:
    """The checkpoint to resume from, checked against the current config, or None."""
    ckpt_path = cfg.get("ckpt_path")
    if not ckpt_path:
        return None
    if ckpt_path == "last":
        path = output_dir / "checkpoints" / "last.ckpt"
        if not path.is_file():
            raise ConfigError(
                f"ckpt_path=last found no earlier run of task '{cfg.task_name}' with "
                f"checkpoints/last.ckpt under {cfg.paths.log_dir}/{cfg.task_name}/runs. Train "
                "once first, or pass an explicit ckpt_path=/path/to/checkpoint.ckpt."
            )
    else:
        path = Path(ckpt_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"ckpt_path='{ckpt_path}' does not exist. Pass an existing .ckpt.")
    check_compatible(read_checkpoint(path), cfg, path)
    return str(path)


def check_compatible(checkpoint: dict[str, Any], cfg: DictConfig, path: Path) -> None:
    saved_encoder = dict(checkpoint["hyper_parameters"].get("encoder", {}))
    saved_encoder.pop("hf_config", None)  # recorded after the build, not configured
    wanted_encoder = to_plain(cfg.model.encoder)
    differences = [
        f"model.encoder.{key}: {saved_encoder.get(key)!r} in the checkpoint, "
        f"{wanted_encoder.get(key)!r} now"
        for key in sorted(saved_encoder.keys() | wanted_encoder.keys())
        if saved_encoder.get(key) != wanted_encoder.get(key)
    ]
    saved_data = checkpoint[ARTIFACTS_KEY].get("data_settings", {})
    differences += [
        f"data.{key}: {saved_data.get(key)!r} in the checkpoint, {cfg.data.get(key)!r} now"
        for key in DATA_KEYS
        if key in saved_data and saved_data[key] != cfg.data.get(key)
    ]
    if differences:
        raise ConfigError(
            f"Checkpoint '{path}' belongs to another model or data configuration ("
            + "; ".join(differences)
            + "). Resume with the settings it was trained with, or start a new run without "
            "ckpt_path."
        )
