"""nlpclf: Lightning + Hydra text classification (residual CNN, RNN, transfer learning)."""

__version__ = "0.1.0"
