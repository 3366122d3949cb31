"""The static embedder with the packaged model (distilled from all-MiniLM-L6-v2, then fitted to it on a corpus)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from routellm.errors import ConfigError
from routellm.registry import get_registry
from routellm_embedder_static.embedder import PACKAGED, StaticEmbedder

TEXTS = [
    "What is the capital of France?",
    "Prove that the square root of two is irrational.",
    "hi",
    "Write a haiku about autumn leaves falling on a quiet pond. " * 40,  # past max_length
    "",
]


@pytest.fixture(scope="module")
def embedder():
    embedder = get_registry().create_embedder("static", {"cache_size": 0})
    yield embedder
    embedder.close()


def test_packaged_model_shape_and_norm(embedder):
    out = embedder.embed(TEXTS)
    config = json.loads((PACKAGED / "config.json").read_text())
    assert embedder.path == PACKAGED
    assert out.shape == (len(TEXTS), config["hidden_dim"]) == (len(TEXTS), embedder.dim)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out[:4], axis=1), 1.0, atol=1e-6)
    assert not out[4].any()  # no tokens: a zero vector, not NaN


def test_batch_independent_and_deterministic(embedder):
    batched = embedder.embed(TEXTS)
    alone = np.stack([embedder.embed_one(t) for t in TEXTS])
    np.testing.assert_array_equal(batched, alone)
    shuffled = embedder.embed(TEXTS[::-1])[::-1]
    np.testing.assert_array_equal(batched, shuffled)
    again = StaticEmbedder.from_config({"cache_size": 0}).embed(TEXTS)
    np.testing.assert_array_equal(batched, again)


def test_matches_model2vec_mean_of_token_vectors(embedder):
    """The embedding is the mean of the packaged token vectors, L2-normalised (model2vec's definition)."""
    model = embedder._model
    ids = model.tokenize(["Prove that the square root of two is irrational."])[0]
    vector = model.embedding[ids].astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(embedder.embed_one(TEXTS[1]), vector / np.linalg.norm(vector), atol=1e-6)


def test_similar_texts_are_closer(embedder):
    a, b, c = embedder.embed(["How do I bake bread?", "Give me a bread baking recipe.", "Explain quantum tunnelling."])
    assert a @ b > a @ c + 0.1


def test_max_length_truncates(embedder):
    short = StaticEmbedder.from_config({"max_length": 4, "cache_size": 0})
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    assert not np.allclose(short.embed_one(text), embedder.embed_one(text))
    np.testing.assert_allclose(short.embed_one(text), short.embed_one("alpha beta gamma delta"), atol=1e-6)


def test_normalize_off_keeps_raw_means():
    raw = StaticEmbedder.from_config({"normalize": False, "cache_size": 0}).embed(TEXTS[:3])
    norms = np.linalg.norm(raw, axis=1)
    assert not np.allclose(norms, 1.0)


def test_missing_model_folder_is_a_config_error(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError, match="nowhere"):
        StaticEmbedder.from_config({"model": str(missing)}).embed(["x"])


def test_folder_without_model_files_is_a_config_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"not a model2vec model folder \(missing model.safetensors, tokenizer.json\)"):
        _ = StaticEmbedder.from_config({"model": str(tmp_path)}).dim


def test_corrupt_weights_are_a_config_error(tmp_path):
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(PACKAGED / name, tmp_path / name)
    (tmp_path / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ConfigError, match=f"cannot load model2vec model from {tmp_path}"):
        StaticEmbedder.from_config({"model": str(tmp_path)}).embed(["x"])


def test_unknown_option_is_rejected():
    with pytest.raises(ConfigError, match="backend"):
        StaticEmbedder.from_config({"backend": "onnx"})


def test_packaged_model_records_its_distillation_and_fit():
    config = json.loads((PACKAGED / "config.json").read_text())
    record = config["routellm_distillation"]
    assert record["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(record["base_model_weights_sha256"]) == 64
    fit = config["routellm_fit"]
    assert fit["teacher"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert [c["file"] for c in fit["corpus"]] == ["train.json", "responses.json"]
    assert fit["validation"][0]["file"] == "held_out.json" and fit["initial_model"].endswith("--out DISTILLED")
    assert fit["held_out_after"]["similarity_correlation"] > fit["held_out_before"]["similarity_correlation"]
    card = (PACKAGED / "README.md").read_text()
    assert "Apache-2.0" in card and "all-MiniLM-L6-v2" in card and "## Fitted to the teacher on a corpus" in card


def test_options_written_for_the_huggingface_embedder_are_accepted():
    embedder = StaticEmbedder.from_config({"device": "cpu", "num_threads": 1, "cache_size": 0})
    assert embedder.embed(["hi there"]).shape == (1, embedder.dim)


def test_unreachable_hub_id_is_a_config_error():
    """A Hub id that cannot be fetched (the tests run with HF_HUB_OFFLINE=1) is one ConfigError naming it."""
    with pytest.raises(ConfigError, match="someone/no-such-static-model"):
        StaticEmbedder.from_config({"model": "someone/no-such-static-model"}).embed(["x"])


def test_hub_id_snapshot_is_used(monkeypatch, tmp_path):
    """A Hub id goes through routellm.checkpoints' resolver (model2vec's files only) and loads the snapshot."""
    import routellm_embedder_static.embedder as module

    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        shutil.copy(PACKAGED / name, tmp_path / name)
    seen = {}

    def fake_resolve(ref, **kwargs):
        seen.update(ref=ref, **kwargs)
        return tmp_path

    monkeypatch.setattr(module, "resolve_checkpoint", fake_resolve)
    embedder = StaticEmbedder.from_config({"model": "someone/static-model", "revision": "abc123", "cache_size": 0})
    np.testing.assert_array_equal(embedder.embed(TEXTS[:2]), StaticEmbedder.from_config({"cache_size": 0}).embed(TEXTS[:2]))
    assert seen["ref"] == "someone/static-model" and seen["revision"] == "abc123"
    assert set(seen["allow_patterns"]) >= {"config.json", "model.safetensors", "tokenizer.json"}


def test_cache_token_follows_the_model_files_so_disk_caches_notice_a_new_model(tmp_path):
    """A model replaced at the same name (the packaged one between releases, a local folder) gets new cache keys."""
    cache_for = pytest.importorskip("routellm_train.embedding_cache", reason="routellm-train is not installed").cache_for
    folder = tmp_path / "model"
    shutil.copytree(PACKAGED, folder)
    before = StaticEmbedder.from_config({"model": str(folder)})
    assert before.cache_token() == StaticEmbedder.from_config({"model": str(folder)}).cache_token()
    assert len(before.cache_token()) == 64
    key_before = cache_for("static", before, tmp_path / "cache").folder
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 1  # another model under the same path
    (folder / "model.safetensors").write_bytes(bytes(data))
    after = StaticEmbedder.from_config({"model": str(folder)})
    assert after.cache_token() != before.cache_token()
    assert cache_for("static", after, tmp_path / "cache").folder != key_before
