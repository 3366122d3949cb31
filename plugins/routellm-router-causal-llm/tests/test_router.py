import shutil

import numpy as np
import pytest

from pytest_routellm import SAMPLE_PROMPTS, RouterContract
from routellm.errors import ConfigError
from routellm_router_causal_llm.model import SCORE_TOKENS
from routellm_router_causal_llm.prompts import PromptBuilder, shipped_template
from routellm_router_causal_llm.router import CausalLLMRouter

from .conftest import save_tiny_llama


def config(checkpoint, base, **extra):
    return {
        "checkpoint_path": str(checkpoint), "model_id": str(base), "device": "cpu", "batch_size": 3,
        "score_position": "next_token", **extra,
    }


class TestCausalLLMContract(RouterContract):
    router_name = "causal_llm"

    @pytest.fixture(scope="class", autouse=True)
    @staticmethod
    def _checkpoint(request, original_layout_checkpoint, tiny_base):
        request.cls.router_config = config(original_layout_checkpoint, tiny_base)


@pytest.fixture(scope="module")
def router(original_layout_checkpoint, tiny_base):
    return CausalLLMRouter.from_config(config(original_layout_checkpoint, tiny_base))


def test_score_tokens_take_the_seed_ids(router, tiny_base):
    from transformers import AutoTokenizer

    base_size = len(AutoTokenizer.from_pretrained(tiny_base))
    # As in RouteLLM: the tokenizer gains [[1]]..[[5]] after its vocabulary, matching the checkpoint's extra rows.
    assert router.classifier.score_ids == list(range(base_size, base_size + 5))
    assert router.classifier.tokenizer.padding_side == "left"


def test_prompt_is_the_seeds_llama3_format(router):
    text = router.prompt("Hi!")
    system = shipped_template("system_ft_v5.txt").strip()
    assert text == (
        f"<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n[Question]\nHi!\n\nPrediction:<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert system.startswith("[Instruction]\nBased on the question provided below")


def test_win_rate_is_one_minus_p_high_scores(router):
    import torch

    prompt = "Write a Python function that merges two sorted linked lists."
    tok, model = router.classifier.tokenizer, router.classifier.model
    ids = tok(router.prompt(prompt), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, -1]
    probs = torch.softmax(logits[router.classifier.score_ids], dim=-1).numpy()
    np.testing.assert_allclose(router.score_probabilities([prompt])[0], probs, atol=1e-5)
    assert router.calculate_strong_win_rate(prompt) == pytest.approx(1.0 - probs[3:].sum(), abs=1e-5)


def test_scores_vary_and_threshold_moves_them(router, original_layout_checkpoint, tiny_base):
    probs = router.score_probabilities(SAMPLE_PROMPTS)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert np.ptp(router.batch_calculate_win_rate(SAMPLE_PROMPTS)) > 1e-4
    lowest = CausalLLMRouter.from_config(config(original_layout_checkpoint, tiny_base, score_threshold=1))
    highest = CausalLLMRouter.from_config(config(original_layout_checkpoint, tiny_base, score_threshold=5))
    np.testing.assert_allclose(lowest.batch_calculate_win_rate(SAMPLE_PROMPTS), 0.0, atol=1e-6)
    np.testing.assert_allclose(highest.batch_calculate_win_rate(SAMPLE_PROMPTS), 1.0 - probs[:, 4], atol=1e-5)


def test_batch_sizes_agree(router, original_layout_checkpoint, tiny_base):
    prompts = SAMPLE_PROMPTS + ["x" * 300, "Hi"]
    reference = np.array([router.calculate_strong_win_rate(p) for p in prompts])
    for batch_size in (2, 16):
        other = CausalLLMRouter.from_config(config(original_layout_checkpoint, tiny_base, batch_size=batch_size))
        np.testing.assert_allclose(other.batch_calculate_win_rate(prompts), reference, atol=1e-5)


def test_chat_template_format(tiny_base, original_layout_checkpoint):
    router = CausalLLMRouter.from_config(config(original_layout_checkpoint, tiny_base, prompt_format="chat_template"))
    text = router.prompt("Hi!")
    assert text.startswith("<|system|>[Instruction]") and text.endswith("Prediction:</s><|assistant|>")
    assert not router.prompt.adds_special_tokens
    assert 0.0 <= router.calculate_strong_win_rate("Hi!") <= 1.0


def test_bfloat16_option(original_layout_checkpoint, tiny_base, router):
    import torch

    half = CausalLLMRouter.from_config(config(original_layout_checkpoint, tiny_base, dtype="bfloat16"))
    assert half.classifier.model.dtype == torch.bfloat16
    np.testing.assert_allclose(half.batch_calculate_win_rate(SAMPLE_PROMPTS), router.batch_calculate_win_rate(SAMPLE_PROMPTS), atol=0.05)


def test_seed_config_template_paths_use_shipped_copies(original_layout_checkpoint, tiny_base, router):
    seeded = CausalLLMRouter.from_config(
        config(
            original_layout_checkpoint,
            tiny_base,
            system_message="routellm/routers/causal_llm/system_ft_v5.txt",
            classifier_message="routellm/routers/causal_llm/classifier_ft_v5.txt",
        )
    )
    assert seeded.prompt("Hi") == router.prompt("Hi")


def test_custom_and_checkpoint_templates(tmp_path, original_layout_checkpoint, tiny_base):
    (tmp_path / "q.txt").write_text("Q: {question}\nA:")
    custom = CausalLLMRouter.from_config(config(original_layout_checkpoint, tiny_base, classifier_message=str(tmp_path / "q.txt")))
    assert "Q: Hi\nA:" in custom.prompt("Hi")
    ckpt = tmp_path / "ckpt"
    shutil.copytree(original_layout_checkpoint, ckpt)
    (ckpt / "system_ft_v5.txt").write_text("Rate it.")
    own = CausalLLMRouter.from_config(config(ckpt, tiny_base))
    assert own.prompt("Hi").startswith("<|start_header_id|>system<|end_header_id|>\n\nRate it.<|eot_id|>")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"score_threshold": 6}, "score_threshold must be between 1 and 5"),
        ({"special_tokens": ["[[a]]"]}, "special_tokens must be"),
        ({"model_type": "new_head"}, "model_type must be 'causal'"),
        ({"dtype": "int4"}, "dtype must be one of"),
        ({"prompt_format": "alpaca"}, "prompt_format must be one of"),
        ({"score_position": "last"}, "score_position must be one of generate, next_token"),
        ({"generation_window": 0}, "generation_window must be at least 1"),
        ({"system_message": "/nowhere/prompt.txt"}, "template file not found"),
        ({"no_such_key": 1}, "no_such_key"),
    ],
)
def test_bad_options(original_layout_checkpoint, tiny_base, extra, message):
    with pytest.raises(ConfigError, match=message):
        CausalLLMRouter.from_config(config(original_layout_checkpoint, tiny_base, **extra))


def test_classifier_template_needs_question(tmp_path, original_layout_checkpoint, tiny_base):
    (tmp_path / "q.txt").write_text("no placeholder")
    with pytest.raises(ConfigError, match=r"\{question\}"):
        CausalLLMRouter.from_config(config(original_layout_checkpoint, tiny_base, classifier_message=str(tmp_path / "q.txt")))


def test_no_tokenizer_anywhere(original_layout_checkpoint, tmp_path):
    with pytest.raises(ConfigError, match="tokenizer.*model_id"):
        CausalLLMRouter.from_config(config(original_layout_checkpoint, tmp_path / "missing"))


def test_tokenizer_that_does_not_fit_the_checkpoint(tmp_path, tiny_base):
    # No embedding rows for the score tokens: RouteLLM's tokenizer + this model cannot score.
    ckpt = save_tiny_llama(tmp_path / "small", extra_rows=0, tokenizer=False)
    with pytest.raises(ConfigError, match="does not belong to this checkpoint"):
        CausalLLMRouter.from_config(config(ckpt, tiny_base))


def test_encoder_folder_is_not_a_causal_lm(tmp_path, tiny_base):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)).save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="not a causal language model"):
        CausalLLMRouter.from_config(config(tmp_path, tiny_base))


def test_missing_or_empty_folder(tmp_path, tiny_base):
    with pytest.raises(ConfigError, match="checkpoint folder not found"):
        CausalLLMRouter.from_config(config(tmp_path / "nope", tiny_base))
    with pytest.raises(ConfigError, match="no config.json"):
        CausalLLMRouter.from_config(config(tmp_path, tiny_base))


def test_hub_id_unreachable(monkeypatch, tiny_base):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="Hugging Face Hub"):
        CausalLLMRouter.from_config({"checkpoint_path": "routellm/causal_llm_gpt4_augmented"})


def test_score_tokens_constant():
    assert tuple(f"[[{i}]]" for i in range(1, 6)) == SCORE_TOKENS


def test_prompt_builder_rejects_chat_template_without_one():
    with pytest.raises(ConfigError, match="chat template"):
        PromptBuilder("s", "{question}", "chat_template", object(), owner="x")


def test_plugin_import_does_not_load_torch():
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, typer, routellm_router_causal_llm as p; specs = list(p.routellm_routers()); "
        "p.routellm_register_commands(typer.Typer()); "
        "print(json.dumps(['torch' in sys.modules, 'transformers' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [False, False]


# --- RouteLLM's reading: the first score token within 6 greedily generated tokens ------------------


def generating_checkpoint(folder, seed):
    """A tiny checkpoint in RouteLLM's layout whose greedy continuation writes a score token after a
    few other tokens (seed 2: at step 2 or 5) or, for some prompts, not at all (seed 3)."""
    import torch
    from transformers import LlamaForCausalLM

    save_tiny_llama(folder, extra_rows=5, tokenizer=False, seed=seed)
    model = LlamaForCausalLM.from_pretrained(folder)
    if seed == 2:
        with torch.no_grad():
            model.lm_head.weight[-5:] *= 2.0
    model.save_pretrained(folder)
    return folder


def routellm_reading(router, prompt):
    """RouteLLM's CausalLLMClassifier, prompt by prompt: greedy generate(max_new_tokens=6), the first
    token past the original vocabulary, the softmax of the scores of the added tokens at that step."""
    import torch

    tok, model = router.classifier.tokenizer, router.classifier.model
    input_ids = torch.as_tensor(tok.encode(router.prompt.conversation(prompt))).reshape(1, -1)
    with torch.no_grad():
        out = model.generate(
            input_ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.eos_token_id,
            output_scores=True, return_dict_in_generate=True,
        )
    output_ids = out.sequences.squeeze()[input_ids.shape[1]:]
    orig_vocab_size = len(tok) - 5
    step = next((i for i, x in enumerate(output_ids) if x >= orig_vocab_size), None)
    if step is None:
        return None, None
    logits = out.scores[step][0][orig_vocab_size:].numpy().astype(np.float64)
    exp = np.exp(logits - logits.max())
    return step, exp / exp.sum()


PROMPTS = [*SAMPLE_PROMPTS, "x" * 50, "Hi", "Prove it."]


def test_routellm_checkpoints_read_the_first_generated_score_token(tmp_path, tiny_base):
    checkpoint = generating_checkpoint(tmp_path / "ckpt", seed=2)
    router = CausalLLMRouter.from_config(config(checkpoint, tiny_base, score_position=None))
    assert router.score_position == "generate"  # no training settings: RouteLLM's checkpoint
    steps, expected = zip(*(routellm_reading(router, p) for p in PROMPTS), strict=True)
    assert set(steps) == {2, 5}  # the score comes after part of a header, at different steps
    probs = router.score_probabilities(PROMPTS)
    np.testing.assert_allclose(probs, np.array(expected), atol=1e-5)
    threshold = router.config.score_threshold
    np.testing.assert_allclose(router.batch_calculate_win_rate(PROMPTS), 1 - probs[:, threshold - 1:].sum(axis=1), atol=1e-9)
    next_token = CausalLLMRouter.from_config(config(checkpoint, tiny_base))
    assert np.abs(next_token.score_probabilities(PROMPTS) - probs).max() > 0.01  # reading position matters


def test_no_score_token_in_the_window_falls_back_to_after_the_header(tmp_path, tiny_base, caplog):
    checkpoint = generating_checkpoint(tmp_path / "ckpt", seed=3)
    router = CausalLLMRouter.from_config(config(checkpoint, tiny_base, score_position="generate"))
    readings = [routellm_reading(router, p) for p in PROMPTS]
    missing = [p for p, (step, _) in zip(PROMPTS, readings, strict=True) if step is None]
    assert 0 < len(missing) < len(PROMPTS)
    probs = router.score_probabilities(PROMPTS)
    next_token = CausalLLMRouter.from_config(config(checkpoint, tiny_base))
    for prompt, row, (step, expected) in zip(PROMPTS, probs, readings, strict=True):
        if step is None:
            np.testing.assert_allclose(row, next_token.score_probabilities([prompt])[0], atol=1e-5)
        else:
            np.testing.assert_allclose(row, expected, atol=1e-5)
    assert "no score token in the first 6 generated tokens" in caplog.text


def test_first_score_step():
    import torch

    from routellm_router_causal_llm.model import first_score_step

    new = torch.tensor([[7, 8, 100, 101], [100, 7, 7, 7], [7, 7, 7, 7]])
    assert first_score_step(new, [100, 101]).tolist() == [2, 0, -1]
