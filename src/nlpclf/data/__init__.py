"""Corpora to batches: sources, preprocessing protocols, tokenizers and the data module."""

from nlpclf.data.datamodule import PadCollator, TextDataModule
from nlpclf.data.sources import FileSource, HubSource, NewsgroupsSource

__all__ = ["FileSource", "HubSource", "NewsgroupsSource", "PadCollator", "TextDataModule"]
