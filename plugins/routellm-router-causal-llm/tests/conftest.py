"""Tiny random Llama models and a byte-level BPE tokenizer built in the tests (loading and scoring, not quality)."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = [
    "What is the capital of France? Prove that there are infinitely many primes.",
    "Write a Python function that merges two sorted linked lists in place.",
    "Translate good morning into Spanish. Hello there, how are you today?",
    "[Instruction] Based on the question provided below, predict the score an expert evaluator would give.",
    "[Question] Prediction: assistant user system",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def tiny_tokenizer(chat_template: str | None = None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    if chat_template:
        fast.chat_template = chat_template
    return fast


def save_tiny_llama(folder: Path, *, extra_rows: int = 0, tokenizer: bool = True, chat_template: str | None = None, seed: int = 0) -> Path:
    """A random 2-layer Llama; ``extra_rows`` token embeddings beyond the tokenizer (RouteLLM's score tokens)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    tok = tiny_tokenizer(chat_template)
    config = LlamaConfig(
        vocab_size=len(tok) + extra_rows,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    # Spread the output layer so score probabilities differ visibly between prompts.
    torch.nn.init.normal_(model.lm_head.weight, std=0.5)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    if tokenizer:
        tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A base causal LM with its tokenizer (no score tokens), for training and as ``model_id``."""
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama-base"), chat_template=CHAT_TEMPLATE)


@pytest.fixture(scope="session")
def original_layout_checkpoint(tmp_path_factory) -> Path:
    """Like RouteLLM's published checkpoint: five extra embedding rows for [[1]]..[[5]], no tokenizer files."""
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-causal-ckpt"), extra_rows=5, tokenizer=False, seed=1)
