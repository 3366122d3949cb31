"""Distillation on a tiny random BERT made here (says nothing about quality; checks the pipeline and format)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch", reason="the [distill] extra (torch, transformers, skeletoken) is not installed")
pytest.importorskip("transformers", reason="the [distill] extra is not installed")
pytest.importorskip("skeletoken", reason="the [distill] extra is not installed")


def test_distills_a_local_encoder_into_a_loadable_model2vec_folder(tiny_bert, tmp_path):
    from routellm_embedder_static.distill import distill, weights_sha256
    from routellm_embedder_static.embedder import StaticEmbedder

    out = distill(tmp_path / "static", str(tiny_bert), pca_dims=8, dtype="float16")
    config = json.loads((out / "config.json").read_text())
    record = config["routellm_distillation"]
    assert record["base_model"] == str(tiny_bert)
    assert record["base_model_weights_sha256"] == weights_sha256(tiny_bert)
    assert record["pca_dims"] == 8 and record["dtype"] == "float16"
    assert config["hidden_dim"] == 8
    embedder = StaticEmbedder.from_config({"model": str(out), "cache_size": 0})
    vectors = embedder.embed(["what is the capital of france", "how to bake bread", "prove root two"])
    assert vectors.shape == (3, 8) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert "# Static embedder distilled from" in (out / "README.md").read_text()


def test_bad_dtype_is_a_config_error(tmp_path):
    from routellm.errors import ConfigError
    from routellm_embedder_static.distill import distill

    with pytest.raises(ConfigError, match="dtype must be one of"):
        distill(tmp_path / "x", "unused", dtype="int4")
