import pytest
import torch

from nlpclf.data import PadCollator
from nlpclf.models import ResNetEncoder, RNNEncoder, TransformerEncoder

ENCODERS = {
    "resnet": lambda: ResNetEncoder(
        vocab_size=100, pad_id=0, embed_dim=16, channels=24, num_blocks=3
    ),
    "rnn-lstm-attention": lambda: RNNEncoder(vocab_size=100, embed_dim=16, hidden_size=12),
    "rnn-gru-max-2layers": lambda: RNNEncoder(
        vocab_size=100, embed_dim=16, hidden_size=12, cell="gru", pooling="max", num_layers=2
    ),
    "rnn-lstm-last": lambda: RNNEncoder(
        vocab_size=100, embed_dim=16, hidden_size=12, pooling="last"
    ),
    "rnn-lstm-mean-unidirectional": lambda: RNNEncoder(
        vocab_size=100, embed_dim=16, hidden_size=12, pooling="mean", bidirectional=False
    ),
}


def random_docs(lengths, vocab=100, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{"input_ids": torch.randint(1, vocab, (n,), generator=g).tolist()} for n in lengths]


def assert_alone_as_in_the_batch(encoder, docs, batched: torch.Tensor) -> None:
    """Each document alone (no padding at all) gets the features it got in the batch."""
    for row, doc in enumerate(docs):
        single = PadCollator(0)([doc])
        alone = encoder(single["input_ids"], single["attention_mask"])
        assert torch.allclose(alone[0], batched[row], atol=1e-5)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_forward_backward_shapes(name):
    torch.manual_seed(0)
    encoder = ENCODERS[name]()
    batch = PadCollator(0)(random_docs([5, 17, 1, 40]))
    features = encoder(batch["input_ids"], batch["attention_mask"])
    assert features.shape == (4, encoder.output_dim)
    assert torch.isfinite(features).all()
    features.sum().backward()
    grads = [p.grad for p in encoder.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert encoder.embedding.weight.grad[0].abs().sum() == 0  # padding row never learns


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_transformer_forward_backward_and_padding(tiny_transformer, pooling):
    torch.manual_seed(0)
    encoder = TransformerEncoder(str(tiny_transformer), pooling=pooling).eval()
    docs = random_docs([3, 9, 26, 1], vocab=300)
    batch = PadCollator(0)(docs)
    features = encoder(batch["input_ids"], batch["attention_mask"])
    assert features.shape == (4, 32)
    features.sum().backward()
    assert encoder.model.embeddings.word_embeddings.weight.grad is not None
    with torch.no_grad():
        tight = encoder(batch["input_ids"], batch["attention_mask"])
        ids = torch.nn.functional.pad(batch["input_ids"], (0, 11))
        mask = torch.nn.functional.pad(batch["attention_mask"], (0, 11))
        assert torch.allclose(encoder(ids, mask), tight, atol=1e-5)


def test_transformer_rebuilds_from_its_recorded_config_without_files(tiny_transformer):
    original = TransformerEncoder(str(tiny_transformer)).eval()
    rebuilt = TransformerEncoder("/nonexistent/anywhere", **original.checkpoint_config()).eval()
    rebuilt.load_state_dict(original.state_dict())
    batch = PadCollator(0)(random_docs([5, 8], vocab=300))
    with torch.no_grad():
        assert torch.allclose(
            rebuilt(batch["input_ids"], batch["attention_mask"]),
            original(batch["input_ids"], batch["attention_mask"]),
        )


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_extra_padding_does_not_change_results(name):
    torch.manual_seed(0)
    encoder = ENCODERS[name]().eval()
    docs = random_docs([3, 9, 26, 1, 14])
    batch = PadCollator(0)(docs)
    with torch.no_grad():
        tight = encoder(batch["input_ids"], batch["attention_mask"])
        for extra in (1, 7, 64):
            ids = torch.nn.functional.pad(batch["input_ids"], (0, extra))
            mask = torch.nn.functional.pad(batch["attention_mask"], (0, extra))
            assert torch.allclose(encoder(ids, mask), tight, atol=1e-5), extra
        assert_alone_as_in_the_batch(encoder, docs, tight)


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_folded_region_gives_the_convolutions_features(kernel_size):
    torch.manual_seed(0)
    encoder = ResNetEncoder(
        vocab_size=100, embed_dim=16, channels=24, num_blocks=3, kernel_size=kernel_size
    ).eval()
    docs = random_docs([3, 9, 26, 1, 14])
    batch = PadCollator(0)(docs)
    inputs = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        unfolded = encoder(*inputs)
        encoder.fold_for_inference()
        # the table replaces the embedding and the convolution: no second copy is kept
        assert not hasattr(encoder, "embedding") and not hasattr(encoder, "region")
        assert torch.allclose(encoder(*inputs), unfolded, atol=1e-5)
        assert_alone_as_in_the_batch(encoder, docs, unfolded)


@pytest.mark.parametrize("pooling", ["attention", "last"])
def test_rnn_packed_and_masked_paths_agree(pooling):
    torch.manual_seed(0)
    encoder = RNNEncoder(
        vocab_size=100, embed_dim=16, hidden_size=12, num_layers=2, pooling=pooling
    ).eval()
    batch = PadCollator(0)(random_docs([3, 9, 26, 1, 14]))
    with torch.no_grad():
        encoder.packed = True
        packed = encoder(batch["input_ids"], batch["attention_mask"])
        encoder.packed = False
        masked = encoder(batch["input_ids"], batch["attention_mask"])
    assert torch.allclose(packed, masked, atol=1e-5)


def test_rnn_rejects_unknown_choices():
    with pytest.raises(ValueError, match="cell must be one of"):
        RNNEncoder(vocab_size=10, cell="tcn")
    with pytest.raises(ValueError, match="pooling must be"):
        RNNEncoder(vocab_size=10, pooling="sum")


def test_resnet_rejects_bad_shapes_of_config():
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        ResNetEncoder(vocab_size=10, kernel_size=4)
    with pytest.raises(ValueError, match="num_blocks must be >= 1"):
        ResNetEncoder(vocab_size=10, num_blocks=0)
