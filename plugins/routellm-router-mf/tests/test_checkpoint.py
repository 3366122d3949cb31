"""Loading mf checkpoints: RouteLLM's published layout, this project's layout, and bad folders."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from routellm.embedder import Embedder
from routellm.errors import ConfigError
from routellm.extras import MissingDependencyError
from routellm_router_mf.checkpoint import MFConfig, MFWeights, find_model, load_checkpoint, save_checkpoint
from routellm_router_mf.model_ids import ROUTELLM_MODEL_NAMES
from routellm_router_mf.router import MFRouter

TEXT_DIM, DIM = 12, 5


class TableEmbedder(Embedder):
    """Fixed vectors per prompt (normalised by the base class), so scores can be computed by hand."""

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        super().__init__(cache_size=0)
        self.table = table

    @property
    def dim(self) -> int:
        return TEXT_DIM

    def _embed(self, texts):
        return np.stack([self.table[t] for t in texts])


@pytest.fixture
def prompts():
    rng = np.random.default_rng(0)
    return {f"prompt {i}": rng.normal(size=TEXT_DIM).astype(np.float32) for i in range(6)}


def original_layout(folder, *, fmt="safetensors", num_models=64):
    """A checkpoint exactly as RouteLLM's PyTorchModelHubMixin writes it: constructor kwargs + state dict."""
    torch.manual_seed(0)
    state = {
        "P.weight": torch.randn(num_models, DIM),
        "text_proj.0.weight": torch.randn(DIM, TEXT_DIM) * 0.3,
        "classifier.0.weight": torch.randn(1, DIM),
    }
    folder.mkdir(parents=True, exist_ok=True)
    config = {"dim": DIM, "num_models": num_models, "text_dim": TEXT_DIM, "num_classes": 1, "use_proj": True}
    (folder / "config.json").write_text(json.dumps(config))
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(state, str(folder / "model.safetensors"))
    else:
        torch.save(state, folder / "pytorch_model.bin")
    return state


def reference_win_rate(state, strong: int, weak: int, embedding: np.ndarray) -> float:
    """RouteLLM's MFModel.forward + pred_win_rate, written out in torch."""
    model_embed = torch.nn.functional.normalize(state["P.weight"][[strong, weak]], p=2, dim=1)
    prompt = torch.nn.functional.normalize(torch.tensor(embedding), dim=0)  # OpenAI vectors are unit length
    projected = prompt @ state["text_proj.0.weight"].T
    logits = ((model_embed * projected) @ state["classifier.0.weight"].T).squeeze()
    return torch.sigmoid(logits[0] - logits[1]).item()


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_seed_layout_scores_like_the_seed(tmp_path, prompts, fmt):
    state = original_layout(tmp_path / "seed", fmt=fmt)
    router = MFRouter(MFRouter.Config(checkpoint_path=str(tmp_path / "seed"), hidden_size=DIM), embedder=TableEmbedder(prompts))
    strong, weak = ROUTELLM_MODEL_NAMES.index("gpt-4-1106-preview"), ROUTELLM_MODEL_NAMES.index("mixtral-8x7b-instruct-v0.1")
    assert (strong, weak) == (24, 36)
    assert router.strong_index == strong and router.weak_index == weak
    got = router.batch_calculate_win_rate(list(prompts))
    expected = [reference_win_rate(state, strong, weak, vector) for vector in prompts.values()]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert len({round(x, 4) for x in got}) > 3  # the prompts really move the score


def test_bin_checkpoint_without_torch_names_the_extra(tmp_path, monkeypatch):
    original_layout(tmp_path / "seed", fmt="bin")
    original_layout(tmp_path / "st")
    load_checkpoint(tmp_path / "seed")  # readable with torch
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails, as when it is not installed
    with pytest.raises(MissingDependencyError, match=r"needs torch: pip install 'routellm-router-mf\[torch\]'"):
        load_checkpoint(tmp_path / "seed")
    assert load_checkpoint(tmp_path / "st")[0].dim == DIM


def test_seed_layout_defaults_to_openai_embeddings(tmp_path):
    from routellm_router_mf.router import embedder_section

    original_layout(tmp_path / "seed")
    config, _ = load_checkpoint(tmp_path / "seed")
    assert config.names == list(ROUTELLM_MODEL_NAMES)
    assert embedder_section(config, None) == ("openai", {"model": "text-embedding-3-small"})
    assert embedder_section(config, {"base_url": "http://x/v1"}) == (
        "openai", {"model": "text-embedding-3-small", "base_url": "http://x/v1"}
    )
    assert embedder_section(config, {"name": "huggingface", "model": "m"}) == ("huggingface", {"model": "m"})


def test_embedder_of_wrong_width_is_a_clear_error(tmp_path):
    original_layout(tmp_path / "seed")

    class Wide(TableEmbedder):
        @property
        def dim(self):
            return 384

    router = MFRouter(MFRouter.Config(checkpoint_path=str(tmp_path / "seed")), embedder=Wide({}))
    with pytest.raises(ConfigError, match="384-d vectors.*12-d"):
        router.calculate_strong_win_rate("hi")


def test_own_layout_round_trip_with_model_names_and_features(tmp_path, prompts):
    rng = np.random.default_rng(1)
    names = ["gpt-4o", "tiny-llm", "other"]
    config = MFConfig(
        dim=DIM, num_models=3, text_dim=TEXT_DIM, format="routellm-mf/1", model_names=names,
        aliases={"small": "tiny-llm"}, embedder={"name": "table"}, features=["log_chars"],
        feature_mean=[3.0], feature_std=[0.5],
    )
    weights = MFWeights(
        P=rng.normal(size=(3, DIM)).astype(np.float32),
        text_proj=rng.normal(size=(DIM, TEXT_DIM + 1)).astype(np.float32),
        classifier=rng.normal(size=(1, DIM)).astype(np.float32),
    )
    save_checkpoint(tmp_path / "ck", config, weights, card="# card\n")
    loaded, got = load_checkpoint(tmp_path / "ck")
    assert loaded == config
    for field in ("P", "text_proj", "classifier"):
        np.testing.assert_array_equal(getattr(got, field), getattr(weights, field))
    assert (tmp_path / "ck" / "README.md").read_text() == "# card\n"

    router = MFRouter(
        MFRouter.Config(checkpoint_path=str(tmp_path / "ck"), strong_model="gpt-4o", weak_model="small"),
        embedder=TableEmbedder(prompts),
    )
    # By hand: logit = c · ((p̂_s − p̂_w) ⊙ W [e, (log1p(chars) − 3) / 0.5]).
    p_hat = weights.P / np.linalg.norm(weights.P, axis=1, keepdims=True)
    for prompt, vector in prompts.items():
        x = np.append(vector / np.linalg.norm(vector), (np.log1p(len(prompt)) - 3.0) / 0.5)
        logit = weights.classifier[0] @ ((p_hat[0] - p_hat[1]) * (weights.text_proj @ x))
        assert router.calculate_strong_win_rate(prompt) == pytest.approx(1 / (1 + np.exp(-logit)), rel=1e-5)


def test_any_model_names_work_and_unknown_names_are_listed():
    names = ["gpt4_1106_preview", "Mixtral-8x7B-Instruct-v0.1_concise", "gpt-4o"]
    assert find_model(names, "gpt-4o", where="x") == 2
    assert find_model(names, "gpt-4-1106-preview", where="x") == 0  # loose match
    assert find_model(names, "mixtral", where="x", aliases={"mixtral": names[1]}) == 1
    with pytest.raises(ConfigError, match="'claude-9' is not in this checkpoint's model table.*gpt-4o"):
        find_model(names, "claude-9", where="x")


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("no_config", "is not an mf checkpoint: it has no config.json"),
        ("no_weights", "it has no model.safetensors"),
        ("bad_json", "not a valid mf config"),
        ("wrong_shape", "'text_proj.0.weight' has shape"),
        ("missing_key", "weights lack 'classifier.0.weight'"),
        ("names_mismatch", "num_models is 64 but the model-name table has 2 names"),
        ("pickle", "cannot be read as plain tensors"),
    ],
)
def test_bad_checkpoint_folder_is_a_clear_error(tmp_path, breakage, message):
    folder = tmp_path / "ck"
    original_layout(folder)
    config = json.loads((folder / "config.json").read_text())
    if breakage == "no_config":
        (folder / "config.json").unlink()
    elif breakage == "no_weights":
        (folder / "model.safetensors").unlink()
    elif breakage == "bad_json":
        (folder / "config.json").write_text("{not json")
    elif breakage == "wrong_shape":
        (folder / "config.json").write_text(json.dumps({**config, "text_dim": 7}))
    elif breakage == "missing_key":
        from safetensors.torch import save_file

        save_file({"P.weight": torch.zeros(64, DIM), "text_proj.0.weight": torch.zeros(DIM, TEXT_DIM)}, str(folder / "model.safetensors"))
    elif breakage == "names_mismatch":
        (folder / "config.json").write_text(json.dumps({**config, "model_names": ["a", "b"]}))
    elif breakage == "pickle":
        (folder / "model.safetensors").unlink()

        class Evil:
            def __reduce__(self):
                return (print, ("unpickled!",))

        torch.save({"P.weight": Evil()}, folder / "pytorch_model.bin")
    with pytest.raises(ConfigError, match=message):
        MFRouter(MFRouter.Config(checkpoint_path=str(folder)))


def test_missing_folder_and_hidden_size_mismatch(tmp_path):
    with pytest.raises(ConfigError, match="router 'mf': checkpoint folder not found"):
        MFRouter(MFRouter.Config(checkpoint_path=str(tmp_path / "nope")))
    original_layout(tmp_path / "seed")
    with pytest.raises(ConfigError, match="hidden_size is 128 but the checkpoint has dim 5"):
        MFRouter(MFRouter.Config(checkpoint_path=str(tmp_path / "seed"), hidden_size=128))


def test_hub_id_unreachable_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="router 'mf': cannot get 'routellm/mf_gpt4_augmented' from the Hugging Face Hub.*checkpoint folder"):
        MFRouter(MFRouter.Config(checkpoint_path="routellm/mf_gpt4_augmented"))


def test_cache_key_follows_the_checkpoint_files_not_only_its_path(tmp_path):
    """Retraining into the same folder must not reuse eval's cached win rates (they key on this token)."""
    import shutil

    from routellm.evaluation.scoring import RouterRecipe
    from routellm_router_mf.checkpoint import DEFAULT_CHECKPOINT
    from routellm_router_mf.router import MFRouter

    folder = tmp_path / "ck"
    shutil.copytree(DEFAULT_CHECKPOINT, folder)
    before = RouterRecipe("mf", MFRouter, {"checkpoint_path": str(folder)}).fingerprint
    assert before["token"] and before["token"] == MFRouter.cache_token(MFRouter.Config(checkpoint_path=str(folder)))
    config = folder / "config.json"
    config.write_text(config.read_text().replace("{", '{"retrained": 1, ', 1))
    after = RouterRecipe("mf", MFRouter, {"checkpoint_path": str(folder)}).fingerprint
    assert after["token"] != before["token"] and after["config"] == before["config"]
    assert MFRouter.cache_token(MFRouter.Config(checkpoint_path="owner/hub-repo")) == ""
