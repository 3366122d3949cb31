"""The checkpoints trained on the static embedder (routellm-embedder-static), the default among them: scoring,
records, the earlier name ``static``, a missing plugin, the one-line switch to MiniLM."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_routellm import RouterContract
from routellm.errors import ConfigError
from routellm.extras import MissingDependencyError
from routellm_router_mf.checkpoint import PACKAGED_DIR, load_checkpoint, resolve_checkpoint
from routellm_router_mf.router import MFRouter

pytest.importorskip("routellm_embedder_static", reason="routellm-embedder-static is not installed")

PROMPTS = ["Prove that there are infinitely many primes.", "hi", "Write a sonnet about the sea.", "What is 17 * 23?"]


class TestStaticCheckpointByItsEarlierName(RouterContract):
    router_name = "mf"
    router_config = {"checkpoint_path": "static"}


def test_static_is_the_earlier_name_of_default():
    assert resolve_checkpoint("static") == resolve_checkpoint("default") == PACKAGED_DIR / "default"


@pytest.mark.parametrize("name", ["default", "apache-static", "routerbench-static"])
def test_static_checkpoints_record_the_static_embedder(name):
    folder = resolve_checkpoint(name)
    assert folder == PACKAGED_DIR / name
    config, _ = load_checkpoint(folder)
    assert config.embedder["name"] == "static" and config.embedder["model"] == "default"
    assert config.text_dim == 128
    assert "--embedder static" in config.training["command"]
    assert '"name": "static"' in (folder / "README.md").read_text()


def test_default_checkpoint_scores_batch_independently():
    router = MFRouter(MFRouter.Config())
    assert router.embedder.config.model == "default"
    batched = router.batch_calculate_win_rate(PROMPTS)
    alone = np.array([router.calculate_strong_win_rate(p) for p in PROMPTS])
    np.testing.assert_allclose(batched, alone, rtol=0, atol=1e-12)  # BLAS may round the last bit differently
    assert ((batched > 0) & (batched < 1)).all() and batched.std() > 0.01
    scores = router.batch_model_scores(PROMPTS, ["gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat"])
    np.testing.assert_allclose(1 / (1 + np.exp(-(scores[:, 0] - scores[:, 1]))), batched, atol=1e-6)


def test_minilm_embedder_on_a_static_checkpoint_is_a_clear_error():
    router = MFRouter(MFRouter.Config(checkpoint_path="default", embedder={"name": "huggingface"}))
    with pytest.raises(ConfigError, match="gives 384-d vectors but checkpoint .* 128-d"):
        router.batch_calculate_win_rate(["x"])


def test_missing_static_plugin_names_it(monkeypatch):
    from routellm.registry import get_registry

    registry = get_registry()
    embedders = {k: v for k, v in registry.embedders.items() if k != "static"}
    monkeypatch.setattr(type(registry), "embedders", property(lambda self: embedders))
    router = MFRouter(MFRouter.Config(checkpoint_path="apache-static"))
    with pytest.raises(MissingDependencyError, match=r"pip install 'routellm-embedder-static'"):
        router.batch_calculate_win_rate(["x"])


def test_local_config_switches_to_minilm_with_one_line(tmp_path):
    """configs/local.yaml with its commented `checkpoint_path: minilm` line swapped in loads MiniLM's checkpoint."""
    from routellm.config import load_config
    from routellm_router_mf.checkpoint import DEFAULT_CHECKPOINT

    local = DEFAULT_CHECKPOINT.parents[5] / "configs" / "local.yaml"
    text = local.read_text()
    assert "# checkpoint_path: minilm" in text
    switched = tmp_path / "local-minilm.yaml"
    lines = [line for line in text.splitlines() if line.strip() != "checkpoint_path: default"]
    switched.write_text("\n".join(line.replace("# checkpoint_path: minilm", "checkpoint_path: minilm") for line in lines))
    router = load_config(switched).create_router("mf")
    assert router.folder == PACKAGED_DIR / "minilm"
    assert router.checkpoint.embedder["name"] == "huggingface" and router.checkpoint.text_dim == 384
    assert router.embedder.config.num_threads == 1  # local.yaml's option, merged over the recorded embedder


@pytest.mark.parametrize("name", ["default", "apache-static", "routerbench-static"])
def test_static_checkpoints_record_the_digest_of_the_packaged_model(name):
    from routellm_embedder_static.embedder import StaticEmbedder

    config, _ = load_checkpoint(PACKAGED_DIR / name)
    assert config.embedder["model_digest"] == StaticEmbedder.from_config({}).cache_token()


def test_a_checkpoint_trained_on_another_static_model_is_a_clear_error(tmp_path):
    """E.g. a checkpoint trained before the packaged static model was replaced: its vectors would be meaningless."""
    import json
    import shutil

    folder = tmp_path / "old"
    shutil.copytree(PACKAGED_DIR / "default", folder)
    config = json.loads((folder / "config.json").read_text())
    config["embedder"]["model_digest"] = "0" * 64
    (folder / "config.json").write_text(json.dumps(config))
    router = MFRouter(MFRouter.Config(checkpoint_path=str(folder)))
    with pytest.raises(ConfigError, match=r"trained on another 'static' model .* retrain it"):
        router.batch_calculate_win_rate(["x"])
