"""A bidirectional recurrent encoder (LSTM or GRU) over packed sequences.

Packing means the recurrence stops at each document's last real token: padding costs no
compute and cannot leak into the states, so a document gets the same features alone or in
any batch. Pooling over the outputs is configurable: ``attention`` (default; long newsgroup
posts carry their topic in a few places), ``max``, ``mean`` or ``last`` (final states of both
directions).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nlpclf.models.pooling import AttentionPooling, masked_max, masked_mean

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


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
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if pooling not in ("attention", "max", "mean", "last"):
            raise ValueError(f"pooling must be attention, max, mean or last, got {pooling!r}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.embed_dropout = nn.Dropout(embed_dropout)
        self.rnn = CELLS[cell](
            embed_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.directions = 2 if bidirectional else 1
        self.output_dim = hidden_size * self.directions
        self.pooling = pooling
        self.attention = AttentionPooling(self.output_dim) if pooling == "attention" else None
        self.dropout = nn.Dropout(dropout)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        lengths = attention_mask.sum(dim=1).clamp(min=1)
        x = self.embed_dropout(self.embedding(input_ids))
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, state = self.rnn(packed)
        if self.pooling == "last":
            hidden = state[0] if isinstance(state, tuple) else state  # LSTM: (h, c)
            pooled = torch.cat(list(hidden[-self.directions :]), dim=-1)
        else:
            out, _ = pad_packed_sequence(outputs, batch_first=True, total_length=x.shape[1])
            if self.attention is not None:
                pooled = self.attention(out, attention_mask)
            elif self.pooling == "max":
                pooled = masked_max(out, attention_mask)
            else:
                pooled = masked_mean(out, attention_mask)
        return self.dropout(pooled)
