"""The ``onnx`` and ``onnx-int8`` backends: same embedding space as torch, batch-independent, cached exports."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from routellm.errors import ConfigError
from routellm.registry import get_registry
from routellm_embedder_huggingface import onnx_export

TEXTS = [
    "What is the capital of France?",
    "Prove that the square root of two is irrational.",
    "hi",
    "Write a haiku about autumn leaves falling on a quiet pond, then explain its imagery line by line.",
]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory, minilm_path):
    """A small random BERT with MiniLM's tokenizer: exports and quantises in seconds."""
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (minilm_path / name).is_file():
            shutil.copy(minilm_path / name, folder / name)
    return folder


def make(model, backend, cache, **options):
    return get_registry().create_embedder(
        "huggingface", {"model": str(model), "backend": backend, "cache_size": 0, "onnx_cache_dir": str(cache),
                        **options}
    )


@pytest.fixture(scope="module")
def tiny_exports(tiny_bert, tmp_path_factory):
    cache = tmp_path_factory.mktemp("onnx-cache")
    return cache, {backend: make(tiny_bert, backend, cache) for backend in ("torch", "onnx", "onnx-int8")}


def test_onnx_matches_torch_and_int8_stays_close(tiny_exports):
    _, embedders = tiny_exports
    reference = embedders["torch"].embed(TEXTS)
    np.testing.assert_allclose(embedders["onnx"].embed(TEXTS), reference, atol=1e-4)
    int8 = embedders["onnx-int8"].embed(TEXTS)
    assert np.sum(int8 * reference, axis=1).min() > 0.95
    assert embedders["onnx-int8"].onnx_path.name == "model_int8.onnx"


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_embedding_does_not_depend_on_batch_mates(tiny_exports, backend):
    embedder = tiny_exports[1][backend]
    batched = embedder.embed(TEXTS)
    alone = np.stack([embedder.embed_one(text) for text in TEXTS])
    np.testing.assert_allclose(batched, alone, atol=1e-5)


def test_exports_are_cached_by_model_hash(tiny_exports, tiny_bert, monkeypatch, tmp_path):
    cache, embedders = tiny_exports
    path = embedders["onnx-int8"].onnx_path
    assert path.parent == onnx_export.export_dir(tiny_bert, cache)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "_export_optimised", no_export)
    monkeypatch.setattr(onnx_export, "_quantise_static", no_export)
    again = make(tiny_bert, "onnx-int8", cache)
    np.testing.assert_array_equal(again.embed(TEXTS), embedders["onnx-int8"].embed(TEXTS))
    changed = tmp_path / "changed"
    shutil.copytree(tiny_bert, changed)
    (changed / "config.json").write_text((changed / "config.json").read_text().replace('"hidden_act"', '"_x": 1, "hidden_act"'))
    assert onnx_export.export_dir(changed, cache) != path.parent  # other weights or config: another export


def test_unknown_backend_is_a_clear_error(tiny_bert, tmp_path):
    with pytest.raises(ConfigError, match="backend must be one of torch, onnx, onnx-int8"):
        make(tiny_bert, "tensorrt", tmp_path).embed_one("hi")


@pytest.mark.slow
def test_minilm_int8_keeps_the_embedding_space(minilm_path):
    """The default backend on the real encoder (exported once into the test ONNX cache)."""
    int8 = get_registry().create_embedder("huggingface", {"model": str(minilm_path), "cache_size": 0})
    torch_ = get_registry().create_embedder(
        "huggingface", {"model": str(minilm_path), "cache_size": 0, "backend": "torch"}
    )
    assert int8.config.backend == "onnx-int8"
    cosine = np.sum(int8.embed(TEXTS) * torch_.embed(TEXTS), axis=1)
    assert cosine.min() >= 0.99
