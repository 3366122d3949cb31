"""The ``bert`` router: a transformers sequence classifier over (strong wins, tie, weak wins)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from routellm.checkpoints import HubCheckpointMixin, check_model_folder, has_tokenizer, resolve_checkpoint
from routellm.errors import ConfigError
from routellm.router import Router
from routellm_router_bert.labels import LABELS

logger = logging.getLogger(__name__)

DEFAULT_CHECKPOINT = "routellm/bert_gpt4_augmented"
OWNER = "router 'bert'"
DTYPES = ("float32", "float16", "bfloat16")


class BertRouterConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: Hugging Face Hub id or local folder.
    checkpoint_path: str = DEFAULT_CHECKPOINT
    #: ``auto`` picks CUDA, then MPS, then CPU.
    device: str = "auto"
    dtype: str = "float32"
    batch_size: int = 32
    #: Tokens kept per prompt (the rest is cut); default: the checkpoint's limit.
    max_length: int | None = None
    revision: str | None = None
    #: RouteLLM's option; the checkpoint must have exactly this many labels.
    num_labels: int = 3


class BertRouter(HubCheckpointMixin, Router[BertRouterConfig]):
    """Strong win rate = ``1 - P(tie) - P(weak wins)`` from a 3-label sequence classifier.

    Loads RouteLLM's published checkpoint (``routellm/bert_gpt4_augmented``), any folder written by
    ``routellm train bert``, or another ``*ForSequenceClassification`` folder with three labels in
    that order. Prompts are scored in length-sorted batches with padding and truncation.
    """

    Config = BertRouterConfig

    def __init__(self, config: BertRouterConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        if cfg.num_labels != len(LABELS):
            raise ConfigError(f"{OWNER}: num_labels must be {len(LABELS)} ({', '.join(LABELS)}), got {cfg.num_labels}")
        if cfg.dtype not in DTYPES:
            raise ConfigError(f"{OWNER}: dtype must be one of {', '.join(DTYPES)}, got '{cfg.dtype}'")
        if cfg.batch_size < 1:
            raise ConfigError(f"{OWNER}: batch_size must be at least 1, got {cfg.batch_size}")
        self.path = self.checkpoint_folder = resolve_checkpoint(cfg.checkpoint_path, owner=OWNER, revision=cfg.revision)
        self.tokenizer, self.model, self.device, self.max_length = load_classifier(self.path, cfg)

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return float(self.batch_calculate_win_rate([prompt])[0])

    def batch_calculate_win_rate(self, prompts: Sequence[str]) -> np.ndarray:
        probs = self.predict_proba(prompts)
        # As in RouteLLM: 1 - P(tie) - P(weak wins).
        return np.clip(1.0 - probs[:, 1:].sum(axis=1), 0.0, 1.0)

    def predict_proba(self, prompts: Sequence[str]) -> np.ndarray:
        """Label probabilities, shape ``(len(prompts), 3)``, columns as in :data:`LABELS`."""
        return classify(self.model, self.tokenizer, prompts, self.device, self.max_length, self.config.batch_size)

    def training_prompt_hashes(self) -> frozenset[str] | None:
        """The training prompts recorded in the checkpoint folder (``training_prompts.json``), if any."""
        from routellm.training_overlap import load_training_hashes

        return load_training_hashes(self.path)

    def close(self) -> None:
        self.model = None


def load_classifier(path: Path, cfg: BertRouterConfig) -> tuple[Any, Any, str, int]:
    """Tokenizer, model (eval mode, on its device), device and token limit of a checkpoint folder."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from routellm.checkpoints import model_max_length
    from routellm.devices import pick_device

    hint = "train one with `routellm train bert --battles ... --base ... --out DIR`"
    check_model_folder(path, owner=OWNER, hint=hint)
    try:
        model_config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{OWNER}: cannot read {path / 'config.json'}: {exc}") from None
    architectures = list(getattr(model_config, "architectures", None) or [])
    if architectures and not any(name.endswith("ForSequenceClassification") for name in architectures):
        raise ConfigError(
            f"{OWNER}: {path} holds a {', '.join(architectures)}, not a sequence classifier; "
            f"it looks like a base encoder: {hint}"
        )
    if model_config.num_labels != len(LABELS):
        raise ConfigError(
            f"{OWNER}: {path} is a classifier with {model_config.num_labels} labels; the bert router needs "
            f"{len(LABELS)} ({', '.join(LABELS)}); {hint}"
        )
    if not has_tokenizer(path):
        raise ConfigError(f"{OWNER}: {path} has no tokenizer files (tokenizer.json or vocab.txt); {hint}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(path, dtype=getattr(torch, cfg.dtype))
    except Exception as exc:  # transformers/safetensors raise many types for a damaged folder
        raise ConfigError(f"{OWNER}: cannot load the checkpoint in {path}: {type(exc).__name__}: {exc}") from None
    device = pick_device(cfg.device)
    model.to(device).eval()
    limit = cfg.max_length or model_max_length(path, tokenizer, model.config)
    return tokenizer, model, device, limit


def classify(model: Any, tokenizer: Any, prompts: Sequence[str], device: str, max_length: int, batch_size: int) -> np.ndarray:
    """Softmax label probabilities for ``prompts``, batched by similar length."""
    import torch

    if model is None:
        raise RuntimeError("router 'bert' is closed")
    prompts = list(prompts)
    out = np.empty((len(prompts), model.config.num_labels), dtype=np.float64)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            batch = tokenizer(
                [prompts[i] for i in index], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            )
            logits = model(**{key: value.to(device) for key, value in batch.items()}).logits
            out[index] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    return out
