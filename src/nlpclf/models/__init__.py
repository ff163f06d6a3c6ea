"""Encoders: plain ``nn.Module``s mapping token ids and a padding mask to document features.

Each encoder takes ``(input_ids, attention_mask)`` of shape ``(batch, length)`` and returns
``(batch, output_dim)``. They know tensors, not corpora: the only files they read are a
pretrained transformer's own weights.
"""

from nlpclf.models.resnet import ResNetEncoder
from nlpclf.models.rnn import RNNEncoder
from nlpclf.models.transformer import TransformerEncoder

__all__ = ["RNNEncoder", "ResNetEncoder", "TransformerEncoder"]
