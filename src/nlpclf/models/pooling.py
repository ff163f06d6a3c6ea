"""Masked pooling over the time axis: padded positions never contribute."""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("attention", "max", "mean", "last", "cls")


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over real positions of ``x`` (B, T, D) given ``mask`` (B, T)."""
    return x.masked_fill(~mask.bool().unsqueeze(-1), float("-inf")).amax(dim=1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(x.dtype)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class AttentionPooling(nn.Module):
    """Additive attention (Yang et al., 2016): a learned query scores each position."""

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or dim
        self.proj = nn.Linear(dim, hidden)
        self.query = nn.Linear(hidden, 1, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.query(torch.tanh(self.proj(x))).squeeze(-1).float()
        scores = scores.masked_fill(~mask.bool(), float("-inf"))
        weights = scores.softmax(dim=-1).to(x.dtype)
        return torch.einsum("bt,btd->bd", weights, x)
