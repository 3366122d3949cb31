import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pytest_routellm import SAMPLE_PROMPTS, RouterContract
from routellm.errors import ConfigError
from routellm.registry import get_registry
from routellm_router_bert.router import BertRouter

from .conftest import save_tiny_bert


class TestBertContract(RouterContract):
    router_name = "bert"

    @pytest.fixture(scope="class", autouse=True)
    @staticmethod
    def _checkpoint(request, tiny_bert_path):
        request.cls.router_config = {"checkpoint_path": str(tiny_bert_path), "device": "cpu", "batch_size": 4}


@pytest.fixture(scope="module")
def router(tiny_bert_path):
    return BertRouter.from_config({"checkpoint_path": str(tiny_bert_path), "device": "cpu", "batch_size": 4})


def test_win_rate_is_one_minus_tie_and_weak(router):
    import torch

    prompt = "Write a Python function that merges two sorted linked lists."
    batch = router.tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        probs = torch.softmax(router.model(**batch).logits[0], dim=-1).numpy()
    assert router.calculate_strong_win_rate(prompt) == pytest.approx(1.0 - probs[1] - probs[2], abs=1e-6)
    np.testing.assert_allclose(router.predict_proba([prompt])[0], probs, atol=1e-6)


def test_scores_differ_between_prompts(router):
    scores = router.batch_calculate_win_rate(SAMPLE_PROMPTS)
    assert np.ptp(scores) > 1e-4


def test_batch_sizes_and_order_agree(router, tiny_bert_path):
    prompts = SAMPLE_PROMPTS * 3
    reference = np.array([router.calculate_strong_win_rate(p) for p in prompts])
    for batch_size in (1, 2, 7, 64):
        other = BertRouter.from_config({"checkpoint_path": str(tiny_bert_path), "device": "cpu", "batch_size": batch_size})
        np.testing.assert_allclose(other.batch_calculate_win_rate(prompts), reference, atol=1e-5)
    assert router.batch_calculate_win_rate([]).shape == (0,)


def test_long_prompts_are_truncated_to_the_limit(router):
    assert router.max_length == 64  # the tokenizer's model_max_length
    long = "prove " * 500
    head = router.tokenizer.decode(router.tokenizer(long, truncation=True, max_length=64)["input_ids"][1:-1])
    assert router.calculate_strong_win_rate(long) == pytest.approx(router.calculate_strong_win_rate(head), abs=1e-5)


def test_max_length_option(tiny_bert_path):
    router = BertRouter.from_config({"checkpoint_path": str(tiny_bert_path), "device": "cpu", "max_length": 8})
    assert router.max_length == 8
    assert 0.0 <= router.calculate_strong_win_rate("prove " * 100) <= 1.0


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"dtype": "int8"}, "dtype must be one of"),
        ({"num_labels": 2}, "num_labels must be 3"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_options(tiny_bert_path, section, message):
    with pytest.raises(ConfigError, match=message):
        BertRouter.from_config({"checkpoint_path": str(tiny_bert_path), **section})


def test_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="checkpoint folder not found"):
        BertRouter.from_config({"checkpoint_path": str(tmp_path / "nope")})


def test_folder_without_config(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        BertRouter.from_config({"checkpoint_path": str(tmp_path)})


def test_folder_without_weights(tmp_path, tiny_bert_path):
    shutil.copy(tiny_bert_path / "config.json", tmp_path / "config.json")
    with pytest.raises(ConfigError, match="no model weights"):
        BertRouter.from_config({"checkpoint_path": str(tmp_path)})


def test_base_encoder_is_not_a_router(tmp_path):
    save_tiny_bert(tmp_path, head=False)
    with pytest.raises(ConfigError, match="not a sequence classifier.*routellm train bert"):
        BertRouter.from_config({"checkpoint_path": str(tmp_path)})


def test_wrong_number_of_labels(tmp_path):
    save_tiny_bert(tmp_path, num_labels=2)
    with pytest.raises(ConfigError, match="2 labels.*needs 3"):
        BertRouter.from_config({"checkpoint_path": str(tmp_path)})


def test_missing_tokenizer(tmp_path, tiny_bert_path):
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_bert_path / name, tmp_path / name)
    with pytest.raises(ConfigError, match="no tokenizer"):
        BertRouter.from_config({"checkpoint_path": str(tmp_path)})


def test_corrupt_weights(tmp_path, tiny_bert_path):
    shutil.copytree(tiny_bert_path, tmp_path / "ckpt")
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError, match="cannot load the checkpoint"):
        BertRouter.from_config({"checkpoint_path": str(tmp_path / "ckpt")})


def test_corrupt_config(tmp_path, tiny_bert_path):
    shutil.copytree(tiny_bert_path, tmp_path / "ckpt")
    (tmp_path / "ckpt" / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="config.json"):
        BertRouter.from_config({"checkpoint_path": str(tmp_path / "ckpt")})


def test_hub_id_unreachable_names_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="cannot get 'routellm/bert_gpt4_augmented' from the Hugging Face Hub.*not a local folder.*checkpoint folder"):
        BertRouter.from_config({"checkpoint_path": "routellm/bert_gpt4_augmented"})


def test_seed_config_section_is_accepted(tiny_bert_path):
    # RouteLLM's config.example.yaml section: only checkpoint_path.
    router = get_registry().create_router("bert", {"checkpoint_path": str(tiny_bert_path)})
    assert isinstance(router, BertRouter)


def test_plugin_import_does_not_load_torch():
    code = (
        "import sys, routellm_router_bert as p; specs = list(p.routellm_routers()); "
        "import typer; p.routellm_register_commands(typer.Typer()); "
        "print(json.dumps(['torch' in sys.modules, 'transformers' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [False, False]


def test_hub_id_loads_from_the_hub_cache(tmp_path, monkeypatch, tiny_bert_path):
    """The hub path for real: snapshot_download resolves RouteLLM's id from a (pre-filled, offline) hub cache."""
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--routellm--bert_gpt4_augmented"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_bert_path, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    router = BertRouter.from_config({"checkpoint_path": "routellm/bert_gpt4_augmented", "device": "cpu"})
    assert router.path == repo / "snapshots" / commit
    assert 0.0 <= router.calculate_strong_win_rate("Hi") <= 1.0
