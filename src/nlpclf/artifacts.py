"""What a checkpoint carries besides weights, and how it is read back safely.

A checkpoint is a self-contained artefact: the tokenizer (as JSON), padding id, label names,
preprocessing protocol and truncation length travel inside it as plain data, next to the
hyperparameters that rebuild the network. It is always read with ``weights_only=True``, so a
file carrying arbitrary pickled objects is refused instead of executed.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from nlpclf.errors import CheckpointError

if TYPE_CHECKING:
    from nlpclf.classifier import TextClassifier

FORMAT_VERSION = 1
ARTIFACTS_KEY = "nlpclf_artifacts"
REQUIRED = ("tokenizer_json", "pad_id", "protocol", "max_length", "label_names")


def pack_artifacts(artifacts: dict[str, Any]) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, **artifacts}


def unpack_artifacts(checkpoint: dict[str, Any], origin: str = "checkpoint") -> dict[str, Any]:
    artifacts = checkpoint.get(ARTIFACTS_KEY)
    if not isinstance(artifacts, dict):
        raise CheckpointError(
            f"{origin} has no nlpclf artifacts (tokenizer, labels): it was not written by "
            "nlpclf's TextClassifier. Use a .ckpt from an nlpclf training run."
        )
    version = artifacts.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{origin} has checkpoint format version {version}; this nlpclf reads version "
            f"{FORMAT_VERSION}. Use the nlpclf release that wrote it, or retrain."
        )
    missing = [key for key in REQUIRED if key not in artifacts]
    if missing:
        raise CheckpointError(f"{origin} lacks the artifacts {missing}; it is damaged.")
    return artifacts


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True`` and errors that say what is wrong."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"Checkpoint '{path}' does not exist. Pass ckpt_path=/path/to.ckpt.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        globals_ = re.findall(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        if not globals_:
            raise CheckpointError(
                f"'{path}' is not a readable PyTorch checkpoint (it does not unpickle)."
            ) from None
        raise CheckpointError(
            f"Checkpoint '{path}' was refused: it carries pickled objects that are not plain "
            f"data ({globals_[0]}), and nlpclf never executes those. Use a checkpoint written "
            "by nlpclf, whose hyperparameters are plain data."
        ) from None
    except Exception as exc:
        raise CheckpointError(
            f"'{path}' is not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})."
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"'{path}' is not a Lightning checkpoint (no state_dict).")
    unpack_artifacts(checkpoint, origin=f"Checkpoint '{path}'")
    return checkpoint


def load_classifier(path: str | Path) -> TextClassifier:
    """Rebuild a trained classifier from its checkpoint alone, in eval mode on the CPU."""
    from nlpclf.classifier import TextClassifier

    checkpoint = read_checkpoint(path)
    hparams = checkpoint.get("hyper_parameters", {})
    if "encoder" not in hparams or hparams.get("num_classes") is None:
        raise CheckpointError(f"Checkpoint '{path}' lacks the classifier's hyperparameters.")
    model = TextClassifier(**hparams)
    missing, unexpected = model.load_state_dict(checkpoint["state_dict"], strict=False)
    # training-progress metrics (the best validation accuracy) are not needed for inference
    missing = [key for key in missing if not key.startswith("val_acc_best.")]
    if missing or unexpected:
        raise CheckpointError(
            f"Checkpoint '{path}' does not match the network its hyperparameters describe "
            f"(missing {missing[:5]}, unexpected {unexpected[:5]}); it is damaged or edited."
        )
    model.on_load_checkpoint(checkpoint)
    return model.eval()
