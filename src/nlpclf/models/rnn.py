"""A bidirectional recurrent encoder (LSTM or GRU) whose features ignore padding.

Each layer runs one recurrent network per direction. The backward direction reads every
document reversed *within its own length*, so with right padding both directions see only
real tokens before any padding: padding never leaks into a document's features, which are the
same alone or in any batch. On CUDA the directions run over packed sequences (cuDNN skips the
padding entirely); on the CPU they run over the padded batch and the padded outputs are
masked, because PyTorch's CPU backward through packed sequences of varying length is about
30 times slower (measured with torch 2.13: 90 s against 2.6 s for a 64 x 512 batch).

Pooling over the outputs is configurable: ``attention`` (default; long newsgroup posts carry
their topic in a few places), ``max``, ``mean`` or ``last`` (final states of both directions).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nlpclf.models.pooling import AttentionPooling, masked_max, masked_mean

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}
POOLINGS = ("attention", "max", "mean", "last")


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first ``length`` steps of ``x`` (B, T, D); padding stays in place."""
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
    index = torch.where(steps < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - steps, steps)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


class RNNEncoder(nn.Module):
    """Embedding -> (bi)LSTM/GRU stack -> pooling.

    Args:
        vocab_size: rows of the embedding table (filled in from the tokenizer).
        pad_id: the padding token's id.
        embed_dim: word embedding width.
        hidden_size: units per direction and layer.
        num_layers: stacked recurrent layers.
        cell: ``lstm`` or ``gru``.
        bidirectional: read both ways (output width doubles).
        dropout: between layers and on the pooled features; ``embed_dropout`` on embeddings.
        pooling: ``attention``, ``max``, ``mean`` or ``last``.
        packed: run over packed sequences; ``None`` chooses by device (CUDA yes, CPU no).
    """

    def __init__(
        self,
        vocab_size: int,
        pad_id: int = 0,
        embed_dim: int = 128,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        dropout: float = 0.2,
        embed_dropout: float = 0.1,
        pooling: str = "attention",
        packed: bool | None = None,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be attention, max, mean or last, got {pooling!r}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.embed_dropout = nn.Dropout(embed_dropout)
        directions = 2 if bidirectional else 1
        self.layers = nn.ModuleList(
            nn.ModuleList(
                CELLS[cell](
                    embed_dim if layer == 0 else hidden_size * directions,
                    hidden_size,
                    batch_first=True,
                )
                for _ in range(directions)
            )
            for layer in range(num_layers)
        )
        self.output_dim = hidden_size * directions
        self.pooling = pooling
        self.packed = packed
        self.attention = AttentionPooling(self.output_dim) if pooling == "attention" else None
        self.dropout = nn.Dropout(dropout)

    def _run(
        self,
        rnn: nn.Module,
        x: torch.Tensor,
        lengths: torch.Tensor,
        mask: torch.Tensor,
        packed: bool,
    ) -> torch.Tensor:
        if packed:
            sequence = pack_padded_sequence(
                x, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            out, _ = pad_packed_sequence(
                rnn(sequence)[0], batch_first=True, total_length=x.shape[1]
            )
            return out
        return rnn(x)[0] * mask.unsqueeze(-1).to(x.dtype)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        lengths = attention_mask.sum(dim=1).clamp(min=1)
        packed = input_ids.is_cuda if self.packed is None else self.packed
        x = self.embed_dropout(self.embedding(input_ids))
        for index, directions in enumerate(self.layers):
            if index > 0:
                x = self.dropout(x)
            outputs = [self._run(directions[0], x, lengths, attention_mask, packed)]
            if len(directions) == 2:
                backward = self._run(
                    directions[1],
                    reverse_within_length(x, lengths),
                    lengths,
                    attention_mask,
                    packed,
                )
                outputs.append(reverse_within_length(backward, lengths))
            x = torch.cat(outputs, dim=-1)
        if self.pooling == "last":
            rows = torch.arange(x.shape[0], device=x.device)
            half = x.shape[-1] // len(self.layers[-1])
            # forward direction: state after the last real token; backward: after the first
            pooled = torch.cat([x[rows, lengths - 1, :half], x[:, 0, half:]], dim=-1)
        elif self.attention is not None:
            pooled = self.attention(x, attention_mask)
        elif self.pooling == "max":
            pooled = masked_max(x, attention_mask)
        else:
            pooled = masked_mean(x, attention_mask)
        return self.dropout(pooled)
