"""A residual 1-D CNN for text in the spirit of DPCNN (Johnson & Zhang, 2017).

Region embedding, then pre-activation residual blocks; between blocks a stride-2 max-pool
halves the sequence, so the receptive field doubles per block at constant width and the cost
of the whole stack is about twice that of the first block.

Padding never changes a document's features: padded positions are zeroed after every layer,
the pool pads with zeros explicitly (as batch padding would), and the final max runs over real
positions only. A document therefore gets the same features alone or in any batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlock(nn.Module):
    """Pre-activation block: x + conv(relu(conv(relu(x)))), padding kept at zero."""

    def __init__(self, channels: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(x)) * mask
        h = self.conv2(self.dropout(F.relu(h))) * mask
        return x + h


def downsample(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Max-pool 3/2 with explicit zero padding, so the result ignores how long the batch is.

    Output ``j`` pools inputs ``2j-1 .. 2j+1``. Padding one zero left and two right keeps the
    window that holds a document's last token even when the batch ends right after it.
    """
    x = F.max_pool1d(F.pad(x, (1, 2)), kernel_size=3, stride=2)
    mask = F.max_pool1d(F.pad(mask, (1, 2)), kernel_size=3, stride=2)
    return x * mask, mask


class FoldedRegion(nn.Module):
    """The embedding and the region convolution merged into one table lookup, for inference.

    The region convolution is linear in the embeddings, so tap ``k`` applied to word ``w`` is
    a fixed vector, ``table[w, k] = weight[:, :, k] @ E[w]``. Summing ``kernel_size`` shifted
    lookups costs ``kernel_size * channels`` additions per position instead of
    ``kernel_size * embed_dim * channels`` multiply-adds: with 384-d embeddings the region
    convolution is about 40% of the encoder's compute. The table has as many numbers per word
    as the embedding when ``kernel_size * channels == embed_dim`` (3 * 128 = 384).
    """

    def __init__(self, embedding: nn.Embedding, region: nn.Conv1d) -> None:
        super().__init__()
        with torch.no_grad():
            table = torch.einsum("ve,cek->vkc", embedding.weight, region.weight)
        self.register_buffer("table", table.contiguous())  # (vocab, kernel_size, channels)
        self.register_buffer("bias", region.bias.detach().clone())
        self.kernel_size = region.kernel_size[0]

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` ids and ``(B, 1, T)`` mask -> ``(B, channels, T)``, as the convolution."""
        length = input_ids.shape[1]
        taps = self.table[input_ids] * mask.transpose(1, 2).unsqueeze(-1)  # (B, T, K, C)
        half = self.kernel_size // 2
        taps = F.pad(taps, (0, 0, 0, 0, half, half))  # the convolution's zero padding
        out = sum(taps[:, k : k + length, k] for k in range(self.kernel_size))
        return (out + self.bias).transpose(1, 2)


class ResNetEncoder(nn.Module):
    """Embedding -> region conv -> ``num_blocks`` residual blocks with downsampling -> max.

    Args:
        vocab_size: rows of the embedding table (filled in from the tokenizer).
        pad_id: the padding token's id (its embedding stays zero).
        embed_dim: word embedding width.
        channels: width of every convolution (the feature size).
        num_blocks: residual blocks; each after the first halves the sequence.
        kernel_size: convolution width (odd).
        dropout: inside each block; ``embed_dropout`` drops whole embedding channels.
    """

    def __init__(
        self,
        vocab_size: int,
        pad_id: int = 0,
        embed_dim: int = 128,
        channels: int = 128,
        num_blocks: int = 5,
        kernel_size: int = 3,
        dropout: float = 0.1,
        embed_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if num_blocks < 1:
            raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.embed_dropout = nn.Dropout1d(embed_dropout)
        self.region = nn.Conv1d(embed_dim, channels, kernel_size, padding=kernel_size // 2)
        self.blocks = nn.ModuleList(
            ResidualBlock(channels, kernel_size, dropout) for _ in range(num_blocks)
        )
        self.output_dim = channels
        self.folded: FoldedRegion | None = None

    def fold_for_inference(self) -> None:
        """Replace the embedding and the region convolution by their merged table
        (:class:`FoldedRegion`): same features, less compute, no larger.

        For inference only (``nlpclf.predict``, ``eval``, ``export`` fold after loading): the
        folded encoder has no embedding left to train; load the checkpoint again for that.
        """
        self.folded = FoldedRegion(self.embedding, self.region)
        del self.embedding, self.region

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.folded is not None:
            mask = attention_mask.unsqueeze(1).to(self.folded.table.dtype)  # (B, 1, T)
            x = self.folded(input_ids, mask) * mask
        else:
            mask = attention_mask.unsqueeze(1).to(self.embedding.weight.dtype)
            x = self.embedding(input_ids).transpose(1, 2)  # (B, E, T)
            x = self.embed_dropout(x) * mask
            x = self.region(x) * mask
        for index, block in enumerate(self.blocks):
            if index > 0:
                x, mask = downsample(x, mask)
            x = block(x, mask)
        x = F.relu(x).masked_fill(mask == 0, float("-inf"))
        return x.amax(dim=-1)
