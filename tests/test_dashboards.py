"""TensorBoard dashboards: read back from the shared training run's event files."""

import re
from types import SimpleNamespace

import pytest
import torch
from datasets import Dataset
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import compose_config
from nlpclf.callbacks import MisclassifiedText
from nlpclf.callbacks.base import ValidationEpoch, tensorboard_writer

pytestmark = pytest.mark.slow

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def events(trained_run):
    return EventAccumulator(str(trained_run.run / "tensorboard"), size_guidance={"images": 0})


def test_images_every_validation_epoch_not_the_sanity_check(trained_run, events):
    events.Reload()
    images = events.Tags()["images"]
    assert {"val/confusion_matrix", "val/f1_per_class"} <= set(images)
    validation_epochs = len(events.Scalars("val/acc"))
    assert validation_epochs == 6  # conftest.trained_run: 6 epochs, no early stopping
    for tag in ("val/confusion_matrix", "val/f1_per_class"):
        written = events.Images(tag)
        steps = [e.step for e in written]
        # one per validation epoch, at its global step; none for the sanity check (step 0)
        assert len(steps) == validation_epochs and 0 < steps[0] < steps[1] < steps[2] < steps[3]
        assert all(e.encoded_image_string.startswith(PNG) and e.width > 200 for e in written)


def test_text_panel_lists_confident_mistakes_with_their_texts(events):
    events.Reload()
    assert "val/misclassified/text_summary" in events.Tags()["tensors"]
    panels = [
        e.tensor_proto.string_val[0].decode()
        for e in events.Tensors("val/misclassified/text_summary")
    ]
    assert len(panels) == 6
    assert all(re.match(r"\*\*Epoch \d\*\*: \d+ of 16 misclassified", p) for p in panels)
    rows = [line for p in panels for line in p.splitlines() if line.startswith("| 0.")]
    assert rows, "the label noise in trained_run should give validation mistakes"
    noisy = 0
    for row in rows:
        confidence, true, predicted, text = [c.strip() for c in row.strip("|").split(" | ")]
        assert true != predicted and 0.0 < float(confidence) <= 1.0
        assert text.startswith("From: user")  # the validation message itself
        # the generated messages say which group wrote them; relabelled ones keep theirs
        noisy += f"about {predicted}" in text
    assert noisy, "the relabelled validation messages should be among the confident mistakes"


def test_projector_holds_the_validation_documents(trained_run):
    root = trained_run.run / "tensorboard"
    assert "val/documents" in (root / "projector_config.pbtxt").read_text()
    steps = sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit())
    assert len(steps) == 6
    embedding = next(steps[-1].iterdir())
    metadata = (embedding / "metadata.tsv").read_text().splitlines()
    vectors = (embedding / "tensors.tsv").read_text().splitlines()
    assert metadata[0] == "label\tpredicted" and len(metadata) == 17
    assert len(vectors) == 16 and len(vectors[0].split("\t")) == 32  # encoder channels


def test_default_callbacks_include_the_dashboards_projector_off():
    cfg = compose_config("train")
    targets = {name: node.get("_target_") for name, node in cfg.callbacks.items()}
    assert targets["confusion_matrix"] == "nlpclf.callbacks.ConfusionMatrixImage"
    assert targets["class_f1"] == "nlpclf.callbacks.ClassF1Chart"
    assert targets["misclassified"] == "nlpclf.callbacks.MisclassifiedText"
    assert cfg.callbacks.projector.enabled is False


def test_dashboards_write_only_on_rank_zero_with_a_tensorboard_logger(tmp_path):
    tensorboard = TensorBoardLogger(str(tmp_path), name="tb")
    csv = CSVLogger(str(tmp_path), name="csv")
    assert tensorboard_writer(SimpleNamespace(is_global_zero=True, loggers=[csv])) is None
    trainer = SimpleNamespace(is_global_zero=False, loggers=[csv, tensorboard])
    assert tensorboard_writer(trainer) is None
    trainer.is_global_zero = True
    assert tensorboard_writer(trainer) is tensorboard.experiment


class RecordingWriter:
    def __init__(self):
        self.texts = []

    def add_text(self, tag, text, global_step=None):
        self.texts.append((tag, text, global_step))


def test_misclassified_rows_are_sorted_by_confidence_and_map_to_their_texts():
    texts = [f"document number {i} | with a pipe" for i in range(4)]
    # the loader visited the dataset in the order 2, 0, 3, 1 (as a DistributedSampler may)
    loader = SimpleNamespace(sampler=[2, 0, 3, 1])
    trainer = SimpleNamespace(
        val_dataloaders=loader,
        datamodule=SimpleNamespace(splits={"validation": Dataset.from_dict({"text": texts})}),
    )
    logits = torch.tensor([[4.0, 0.0], [0.0, 1.0], [0.0, 2.0], [3.0, 0.0]])
    labels = torch.tensor([0, 0, 0, 1])  # rows 1, 2, 3 are wrong; row 3 most confidently
    epoch = ValidationEpoch(logits, labels, None, ["neg", "pos"], epoch=2, step=30)
    writer = RecordingWriter()
    MisclassifiedText(max_examples=2).draw(writer, trainer, epoch)
    [(tag, markdown, step)] = writer.texts
    assert (tag, step) == ("val/misclassified", 30)
    assert markdown.startswith("**Epoch 2**: 3 of 4 misclassified")
    rows = [line for line in markdown.splitlines() if line.startswith("| 0.")]
    assert len(rows) == 2
    assert rows[0].startswith("| 0.953 | pos | neg | document number 1 \\| with a pipe |")
    assert rows[1].startswith("| 0.881 | neg | pos | document number 3 \\| with a pipe |")
