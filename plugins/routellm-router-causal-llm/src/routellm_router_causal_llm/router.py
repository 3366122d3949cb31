"""The ``causal_llm`` router: a causal LM fine-tuned to answer with a score token ``[[1]]``..``[[5]]``."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import msgspec
import numpy as np

from routellm.checkpoints import HubCheckpointMixin, resolve_checkpoint
from routellm.errors import ConfigError
from routellm.router import Router
from routellm_router_causal_llm.model import (
    GENERATION_WINDOW,
    SCORE_POSITIONS,
    SCORE_TOKENS,
    checkpoint_settings,
    encode,
    generated_score_probabilities,
    load_classifier,
    score_probabilities,
    strong_win_rate,
)
from routellm_router_causal_llm.prompts import (
    CLASSIFIER_TEMPLATE,
    SYSTEM_TEMPLATE,
    PromptBuilder,
    load_template,
)

logger = logging.getLogger(__name__)

DEFAULT_CHECKPOINT = "routellm/causal_llm_gpt4_augmented"
#: The base model of RouteLLM's checkpoint; its tokenizer is used when a checkpoint ships none.
DEFAULT_MODEL_ID = "meta-llama/Meta-Llama-3-8B"
OWNER = "router 'causal_llm'"


class CausalLLMRouterConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: Hugging Face Hub id or local folder.
    checkpoint_path: str = DEFAULT_CHECKPOINT
    score_threshold: int = 4
    #: System / question template files; default: the checkpoint's copies, else the shipped ones.
    system_message: str | None = None
    classifier_message: str | None = None
    #: ``llama3`` (RouteLLM's format) or ``chat_template``; default: what the checkpoint was trained with.
    prompt_format: str | None = None
    #: Tokenizer source when the checkpoint folder has none (RouteLLM's option name).
    model_id: str = DEFAULT_MODEL_ID
    special_tokens: list[str] = msgspec.field(default_factory=lambda: list(SCORE_TOKENS))
    num_outputs: int = 5
    #: RouteLLM's option; only ``causal`` is supported.
    model_type: str = "causal"
    flash_attention_2: bool = False
    #: ``auto`` picks CUDA, then MPS, then CPU.
    device: str = "auto"
    #: ``auto``: bfloat16 on CUDA, float32 elsewhere.
    dtype: str = "auto"
    batch_size: int = 8
    #: Tokens kept per prompt (cut from the left, as RouteLLM); default: no limit.
    max_length: int | None = None
    revision: str | None = None
    #: ``generate`` (RouteLLM's reading) or ``next_token``; default: ``next_token`` for checkpoints
    #: made by ``routellm train causal_llm``, ``generate`` for others (RouteLLM's).
    score_position: str | None = None
    #: Tokens generated in ``generate`` mode (RouteLLM's ``max_new_tokens``).
    generation_window: int = GENERATION_WINDOW


class CausalLLMRouter(HubCheckpointMixin, Router[CausalLLMRouterConfig]):
    """Strong win rate = ``1 - P(score >= score_threshold)``, as in RouteLLM.

    The model reads RouteLLM's system and question templates around the prompt and answers with a
    score token; a high score means the weak model is expected to answer well. ``P(score)`` is the
    softmax of the score tokens' logits where the model writes its score: for RouteLLM's checkpoint
    (``score_position: generate``) the first score token of a greedy generation of up to 6 tokens
    after the user turn, exactly as RouteLLM reads it, even when the model skips part of the
    assistant header; for checkpoints from ``routellm train causal_llm`` (``next_token``) the token
    right after the assistant header, one forward pass per batch.
    """

    Config = CausalLLMRouterConfig

    def __init__(self, config: CausalLLMRouterConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        if cfg.model_type != "causal":
            raise ConfigError(f"{OWNER}: model_type must be 'causal', got '{cfg.model_type}'")
        expected = [f"[[{i}]]" for i in range(1, cfg.num_outputs + 1)]
        if list(cfg.special_tokens) != expected:
            raise ConfigError(f"{OWNER}: special_tokens must be {expected} for num_outputs {cfg.num_outputs}")
        if not 1 <= cfg.score_threshold <= cfg.num_outputs:
            raise ConfigError(f"{OWNER}: score_threshold must be between 1 and {cfg.num_outputs}, got {cfg.score_threshold}")
        if cfg.batch_size < 1:
            raise ConfigError(f"{OWNER}: batch_size must be at least 1, got {cfg.batch_size}")
        if cfg.score_position is not None and cfg.score_position not in SCORE_POSITIONS:
            raise ConfigError(f"{OWNER}: score_position must be one of {', '.join(SCORE_POSITIONS)}, got '{cfg.score_position}'")
        if cfg.generation_window < 1:
            raise ConfigError(f"{OWNER}: generation_window must be at least 1, got {cfg.generation_window}")
        from routellm.devices import pick_device

        self.path = self.checkpoint_folder = resolve_checkpoint(cfg.checkpoint_path, owner=OWNER, revision=cfg.revision)
        self.classifier = load_classifier(
            self.path,
            tokenizer_source=cfg.model_id,
            score_tokens=cfg.special_tokens,
            device=pick_device(cfg.device),
            dtype=cfg.dtype,
            attn_implementation="flash_attention_2" if cfg.flash_attention_2 else None,
            owner=OWNER,
        )
        settings = checkpoint_settings(self.path)
        self.prompt = PromptBuilder(
            load_template(cfg.system_message, SYSTEM_TEMPLATE, self.path, owner=OWNER),
            load_template(cfg.classifier_message, CLASSIFIER_TEMPLATE, self.path, owner=OWNER),
            cfg.prompt_format or settings.get("prompt_format", "llama3"),
            self.classifier.tokenizer,
            owner=OWNER,
        )
        self.score_position = cfg.score_position or settings.get(
            "score_position", "next_token" if settings else "generate"
        )

    def score_probabilities(self, prompts: Sequence[str]) -> np.ndarray:
        """``P(score = 1..5)`` for each prompt, shape ``(len(prompts), num_outputs)``."""
        if self.classifier is None:
            raise RuntimeError(f"{OWNER} is closed")
        if self.score_position == "next_token":
            return self._next_token_probabilities(prompts)
        ids = self._encode([self.prompt.conversation(p) for p in prompts])
        probs, missing = generated_score_probabilities(
            self.classifier, ids, self.config.batch_size, self.config.generation_window
        )
        if missing.any():
            # RouteLLM fails on such a prompt; read the score right after the assistant header instead.
            logger.warning(
                "%s: no score token in the first %d generated tokens for %d prompt(s); reading it after the header",
                OWNER, self.config.generation_window, int(missing.sum()),
            )
            probs[missing] = self._next_token_probabilities([p for p, m in zip(prompts, missing, strict=True) if m])
        return probs

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        assert self.classifier is not None, "router 'causal_llm' is closed"
        return encode(
            self.classifier.tokenizer,
            texts,
            add_special_tokens=self.prompt.adds_special_tokens,
            max_length=self.config.max_length,
        )

    def _next_token_probabilities(self, prompts: Sequence[str]) -> np.ndarray:
        assert self.classifier is not None, "router 'causal_llm' is closed"
        return score_probabilities(self.classifier, self._encode([self.prompt(p) for p in prompts]), self.config.batch_size)

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return float(self.batch_calculate_win_rate([prompt])[0])

    def batch_calculate_win_rate(self, prompts: Sequence[str]) -> np.ndarray:
        return strong_win_rate(self.score_probabilities(prompts), self.config.score_threshold)

    def training_prompt_hashes(self) -> frozenset[str] | None:
        """The training prompts recorded in the checkpoint folder (``training_prompts.json``), if any."""
        from routellm.training_overlap import load_training_hashes

        return load_training_hashes(self.path)

    def close(self) -> None:
        self.classifier = None
