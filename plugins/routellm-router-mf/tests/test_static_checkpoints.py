"""The checkpoints trained on the static embedder (routellm-embedder-static): scoring, records, missing plugin."""

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


class TestStaticCheckpoint(RouterContract):
    router_name = "mf"
    router_config = {"checkpoint_path": "static"}


@pytest.mark.parametrize("name", ["static", "apache-static", "routerbench-static"])
def test_static_checkpoints_record_the_static_embedder(name):
    folder = resolve_checkpoint(name)
    assert folder == PACKAGED_DIR / name
    config, _ = load_checkpoint(folder)
    assert config.embedder["name"] == "static" and config.embedder["model"] == "default"
    assert config.text_dim == 128
    assert "--embedder static" in config.training["command"]
    assert '"name": "static"' in (folder / "README.md").read_text()


def test_static_checkpoint_scores_batch_independently():
    router = MFRouter(MFRouter.Config(checkpoint_path="static"))
    assert router.embedder.config.model == "default"
    batched = router.batch_calculate_win_rate(PROMPTS)
    alone = np.array([router.calculate_strong_win_rate(p) for p in PROMPTS])
    np.testing.assert_array_equal(batched, alone)
    assert ((batched > 0) & (batched < 1)).all() and batched.std() > 0.01
    scores = router.batch_model_scores(PROMPTS, ["gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat"])
    np.testing.assert_allclose(1 / (1 + np.exp(-(scores[:, 0] - scores[:, 1]))), batched, atol=1e-6)


def test_minilm_embedder_on_a_static_checkpoint_is_a_clear_error():
    router = MFRouter(MFRouter.Config(checkpoint_path="static", embedder={"name": "huggingface"}))
    with pytest.raises(ConfigError, match="gives 384-d vectors but checkpoint .* 128-d"):
        router.batch_calculate_win_rate(["x"])


def test_missing_static_plugin_names_the_extra(monkeypatch):
    from routellm.registry import get_registry

    registry = get_registry()
    embedders = {k: v for k, v in registry.embedders.items() if k != "static"}
    monkeypatch.setattr(type(registry), "embedders", property(lambda self: embedders))
    router = MFRouter(MFRouter.Config(checkpoint_path="static"))
    with pytest.raises(MissingDependencyError, match=r"pip install 'routellm-router-mf\[static\]'"):
        router.batch_calculate_win_rate(["x"])


def test_local_config_switches_to_static_with_one_line(tmp_path):
    """configs/local.yaml with its commented `checkpoint_path: static` line swapped in still loads and scores."""
    from routellm.config import load_config
    from routellm_router_mf.checkpoint import DEFAULT_CHECKPOINT

    local = DEFAULT_CHECKPOINT.parents[5] / "configs" / "local.yaml"
    text = local.read_text()
    assert "# checkpoint_path: static" in text
    switched = tmp_path / "local-static.yaml"
    lines = [line for line in text.splitlines() if line.strip() != "checkpoint_path: default"]
    switched.write_text("\n".join(line.replace("# checkpoint_path: static", "checkpoint_path: static") for line in lines))
    router = load_config(switched).create_router("mf")
    assert router.folder == PACKAGED_DIR / "static"
    assert router.embedder.config.device == "auto" and router.embedder.dim == 128
    assert 0.0 < router.calculate_strong_win_rate("Prove that there are infinitely many primes.") < 1.0
