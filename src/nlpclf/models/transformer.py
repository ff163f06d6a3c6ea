"""Transfer learning: a pretrained transformer encoder (any ``transformers`` AutoModel).

The encoder is named by Hub id or local folder (``pretrained``); the data module uses that
model's own tokenizer through config interpolation. Features are the ``cls`` token's hidden
state or the ``mean`` over real tokens. Options: ``freeze`` (feature extraction: the backbone
stays fixed and runs without gradients), and ``gradient_checkpointing`` (less memory, more
compute). Layer-wise learning-rate decay is applied by the classifier through
:meth:`TransformerEncoder.layer_depth`.

After the first build, the model's architecture (``hf_config``) is recorded with the
classifier's hyperparameters, so a checkpoint rebuilds the network without the original
folder or the network: the weights come from the checkpoint.
"""

from __future__ import annotations

import json
import re
from typing import Any

import torch
from torch import nn

from nlpclf.models.pooling import masked_mean
from nlpclf.pretrained import load_auto_model

_LAYER = re.compile(r"\.(?:layer|layers|block|h)\.(\d+)\.")


class TransformerEncoder(nn.Module):
    """Pretrained transformer -> pooled document features.

    Args:
        pretrained: Hub id or local folder of the model (and its tokenizer).
        pooling: ``cls`` (first token) or ``mean`` (over real tokens).
        freeze: keep the pretrained weights fixed (only the head learns).
        gradient_checkpointing: recompute activations in the backward pass to save memory.
        hf_config: the architecture, recorded automatically; when given, the network is
            built from it without loading pretrained weights (a checkpoint supplies them).
    """

    def __init__(
        self,
        pretrained: str,
        pooling: str = "mean",
        freeze: bool = False,
        gradient_checkpointing: bool = False,
        hf_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        if hf_config is not None:
            from transformers import AutoConfig, AutoModel

            config = AutoConfig.for_model(**hf_config)
            self.model = AutoModel.from_config(config)
        else:
            self.model = load_auto_model(pretrained)
        if gradient_checkpointing:
            self.model.gradient_checkpointing_enable()
        self.pooling = pooling
        self.freeze = freeze
        if freeze:
            self.model.requires_grad_(False)
        self.output_dim = int(self.model.config.hidden_size)
        self.num_layers = int(getattr(self.model.config, "num_hidden_layers", 0))

    def checkpoint_config(self) -> dict[str, Any]:
        """Extra init arguments that rebuild this network from plain data alone."""
        return {"hf_config": json.loads(self.model.config.to_json_string())}

    def layer_depth(self, name: str) -> tuple[int, int]:
        """(depth, top) of a parameter: 0 for embeddings, i+1 for layer i, top for the rest."""
        top = self.num_layers + 1
        if "embeddings" in name:
            return 0, top
        match = _LAYER.search(name)
        return (int(match.group(1)) + 1, top) if match else (top, top)

    def train(self, mode: bool = True) -> TransformerEncoder:
        super().train(mode)
        if self.freeze:
            self.model.eval()  # a frozen backbone is a fixed feature extractor: no dropout
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask)[0]
        if self.pooling == "cls":
            return hidden[:, 0]
        return masked_mean(hidden, attention_mask)
