"""Lightning callbacks that draw TensorBoard dashboards of each validation epoch.

Scalars (loss, accuracy, macro F1, learning rate) and the HParams tab come from the
classifier, ``LearningRateMonitor`` and ``nlpclf.train``; these add the pictures.
"""

from nlpclf.callbacks.examples import EmbeddingProjector, MisclassifiedText
from nlpclf.callbacks.images import ClassF1Chart, ConfusionMatrixImage

__all__ = ["ClassF1Chart", "ConfusionMatrixImage", "EmbeddingProjector", "MisclassifiedText"]
