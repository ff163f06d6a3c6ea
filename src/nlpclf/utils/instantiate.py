"""Instantiate config nodes with errors that name the config group at fault."""

from __future__ import annotations

from typing import Any

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig, MissingMandatoryValue, OmegaConf

from nlpclf.errors import ConfigError, NlpclfError


def to_plain(node: Any) -> Any:
    """OmegaConf containers -> resolved dicts and lists (what checkpoints may safely hold)."""
    if isinstance(node, DictConfig) or OmegaConf.is_list(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


def instantiate_component(node: DictConfig, group: str, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` that re-raises our own errors and explains the others."""
    try:
        return hydra.utils.instantiate(node, **kwargs, _convert_="all")
    except MissingMandatoryValue as exc:
        raise ConfigError(
            f"The setting {exc.full_key} has no value (it is ??? in the config). Give it one on "
            f"the command line, e.g. {exc.full_key}=..."
        ) from None
    except InstantiationException as exc:
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, NlpclfError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        detail = str(exc).strip().splitlines()
        raise ConfigError(
            f"The '{group}' config could not be built ({' '.join(detail)[:400]}). Check the "
            f"{group}.* values against the arguments of {node.get('_target_')}."
        ) from None


def instantiate_many(node: DictConfig | None, group: str) -> list[Any]:
    """Instantiate every ``_target_`` child of a group such as ``callbacks`` or ``logger``."""
    if not node:
        return []
    return [
        instantiate_component(child, f"{group}.{name}")
        for name, child in node.items()
        if isinstance(child, DictConfig) and "_target_" in child
    ]
