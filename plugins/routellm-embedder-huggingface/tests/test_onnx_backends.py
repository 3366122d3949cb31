"""The ``onnx`` and ``onnx-int8`` backends: same embedding space as torch, batch-independent, cached exports."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from routellm.errors import ConfigError
from routellm.extras import MissingDependencyError
from routellm.registry import get_registry
from routellm_embedder_huggingface import onnx_export
from routellm_embedder_huggingface.embedder import resolve_model

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


@pytest.fixture(scope="module")
def tiny_bert_onnx(tiny_bert, tmp_path_factory):
    """``tiny_bert`` as the ONNX backends fetch a Hub repository that publishes ``onnx/model.onnx``: config,
    tokenizer and the encoder graph exported the way optimum does (``AutoModel``, ``last_hidden_state`` out),
    and no weights."""
    from pytest_routellm.hub_onnx import export_like_optimum

    folder = tmp_path_factory.mktemp("hub-like") / "tiny-bert"
    shutil.copytree(tiny_bert, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    export_like_optimum(tiny_bert, folder / "onnx" / "model.onnx")
    return folder


#: Builds both ONNX backends from a model folder in a process where `import torch` fails (as when torch is not
#: installed; transformers then also sees no torch).
BUILD_WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None
from pathlib import Path
from routellm_embedder_huggingface.onnx_export import onnx_model
for backend in ("onnx", "onnx-int8"):
    print(onnx_model(Path(sys.argv[1]), backend, Path(sys.argv[2]), 128))
"""


def test_onnx_file_builds_without_torch_and_matches_the_torch_export(tiny_bert_onnx, tiny_exports, tmp_path):
    built = subprocess.run(
        [sys.executable, "-c", BUILD_WITHOUT_TORCH, str(tiny_bert_onnx), str(tmp_path)], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr[-2000:]
    assert [Path(line).name for line in built.stdout.split()] == ["model.onnx", "model_int8.onnx"]
    embedders = {backend: make(tiny_bert_onnx, backend, tmp_path) for backend in ("onnx", "onnx-int8")}
    for embedder in embedders.values():  # the graphs built without torch (nothing is built again here)
        assert embedder.onnx_path.parent == onnx_export.export_dir(tiny_bert_onnx, tmp_path)
        assert str(embedder.onnx_path) in built.stdout
    np.testing.assert_allclose(embedders["onnx"].embed(TEXTS), tiny_exports[1]["onnx"].embed(TEXTS), atol=1e-4)
    cosine = np.sum(embedders["onnx-int8"].embed(TEXTS) * tiny_exports[1]["onnx-int8"].embed(TEXTS), axis=1)
    assert cosine.min() >= 0.999


def test_without_torch_the_error_names_the_extra_and_the_onnx_file(tiny_bert, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails, as when it is not installed
    errors = []
    with pytest.raises(MissingDependencyError) as error:
        onnx_export.onnx_model(tiny_bert, "onnx-int8", tmp_path, 128)  # tiny_bert has no onnx/model.onnx
    errors.append(str(error.value))
    with pytest.raises(MissingDependencyError) as error:
        make(tiny_bert, "torch", tmp_path).embed_one("hi")
    errors.append(str(error.value))
    for message in errors:
        assert "needs torch: pip install 'routellm-embedder-huggingface[torch]'" in message
        assert "onnx/model.onnx" in message and "\n" not in message
    assert not list(tmp_path.iterdir())  # nothing half-built left in the cache


HUB_FILES = [  # sentence-transformers/all-MiniLM-L6-v2 on the Hub, weights and ONNX/OpenVINO variants
    "model.safetensors", "pytorch_model.bin", "rust_model.ot", "tf_model.h5", "onnx/model.onnx", "onnx/model_O1.onnx",
    "onnx/model_O4.onnx", "onnx/model_qint8_avx512.onnx", "onnx/model_quint8_avx2.onnx",
    "openvino/openvino_model.bin", "openvino/openvino_model.xml", "openvino/openvino_model_qint8_quantized.bin",
]  # fmt: skip


@pytest.mark.parametrize("publishes_onnx", [True, False])
def test_onnx_backends_fetch_only_the_encoder_graph(monkeypatch, tmp_path, publishes_onnx):
    import huggingface_hub

    calls: list[list[str]] = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None):
        calls.append(list(allow_patterns))
        folder = tmp_path / "snapshot"
        folder.mkdir(exist_ok=True)
        (folder / "config.json").write_text("{}")
        for name in HUB_FILES if publishes_onnx else [f for f in HUB_FILES if "onnx" not in f]:
            if any(fnmatch.fnmatch(name, pattern) for pattern in allow_patterns):
                (folder / name).parent.mkdir(exist_ok=True)
                (folder / name).write_bytes(b"")
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    folder = resolve_model("someone/encoder", onnx=True)
    fetched = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != "config.json")
    if publishes_onnx:
        assert fetched == ["onnx/model.onnx"] and len(calls) == 1
    else:  # no encoder graph: the weights, for the torch export
        assert fetched == ["model.safetensors"] and len(calls) == 2
