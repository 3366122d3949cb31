"""Tiny random BERT classifiers built in the tests (they test loading and scoring, not quality)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

WORDS = ["the", "a", "of", "to", "and", "is", "in", "what", "how", "why", "write", "explain", "prove", "python", "code", "function", "list", "capital", "france", "hi", "translate", "train", "good", "morning", "spanish", "merge", "sorted", "linked", "lists", "primes", "infinitely", "many"]


def tiny_bert_tokenizer(model_max_length: int = 64):
    from transformers import BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = specials + WORDS + chars + ["##" + c for c in string.ascii_lowercase + string.digits]
    return BertTokenizer(vocab={token: i for i, token in enumerate(dict.fromkeys(vocab))}, model_max_length=model_max_length)


def save_tiny_bert(folder: Path, *, num_labels: int = 3, head: bool = True, seed: int = 0) -> Path:
    """A random 2-layer BERT (a 3-label classifier unless told otherwise) and its tokenizer, saved in ``folder``."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    torch.manual_seed(seed)
    tokenizer = tiny_bert_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=num_labels,
    )
    model = BertForSequenceClassification(config) if head else BertModel(config)
    # A larger head than the default init so the scores differ visibly between prompts.
    if head:
        torch.nn.init.normal_(model.classifier.weight, std=1.0)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert_path(tmp_path_factory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))
