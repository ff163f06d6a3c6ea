"""Encoders: plain ``nn.Module``s mapping token ids and a padding mask to document features.

Each encoder takes ``(input_ids, attention_mask)`` of shape ``(batch, length)`` and returns
``(batch, output_dim)``. They know tensors only: no Lightning, no files, no corpora.
"""

from nlpclf.models.resnet import ResNetEncoder

__all__ = ["ResNetEncoder"]
