"""The ``mf`` router: RouteLLM's matrix-factorisation model over pluggable prompt embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import msgspec
import numpy as np

from routellm.checkpoints import HubCheckpointMixin
from routellm.embedder import Embedder
from routellm.errors import ConfigError
from routellm.router import Router
from routellm_router_mf.checkpoint import (
    MODEL_DIGEST,
    MFConfig,
    find_model,
    load_checkpoint,
    resolve_checkpoint,
)
from routellm_router_mf.scoring import model_logits, pair_direction, prompt_matrix, sigmoid

#: The extra of this distribution that installs each embedder plugin a checkpoint may record.
EMBEDDER_EXTRAS = {
    "static": "routellm-embedder-static",
    "openai": "routellm-router-mf[openai]",
    "huggingface": "routellm-embedder-huggingface",
}
#: The embedder RouteLLM's published checkpoints were trained with.
ROUTELLM_EMBEDDER: dict[str, Any] = {"name": "openai", "model": "text-embedding-3-small"}


class MFRouterConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: ``default`` (the checkpoint shipped in this package, on the static embedder), another packaged name
    #: (``minilm``, ``apache``, ``routerbench``, ``apache-static``, ``routerbench-static``), a local folder, or a
    #: Hub repo id.
    checkpoint_path: str = "default"
    strong_model: str = "gpt-4-1106-preview"
    weak_model: str = "mixtral-8x7b-instruct-v0.1"
    #: RouteLLM's option; when given it must match the checkpoint's ``dim``.
    hidden_size: int | None = None
    #: Embedder section (``name`` plus options). Defaults to the one recorded in the checkpoint
    #: (for RouteLLM's layout: ``openai`` ``text-embedding-3-small``); options given without a
    #: ``name``, or with the checkpoint's name, are merged over the recorded ones.
    embedder: dict[str, Any] | None = None
    revision: str | None = None


class MFRouter(HubCheckpointMixin, Router[MFRouterConfig]):
    """Strong win rate from a matrix-factorisation checkpoint (RouteLLM's, or one from ``routellm train mf``)."""

    Config = MFRouterConfig

    def __init__(self, config: MFRouterConfig | None = None, *, embedder: Embedder | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self.folder = self.checkpoint_folder = resolve_checkpoint(cfg.checkpoint_path, revision=cfg.revision)
        self.checkpoint, weights = load_checkpoint(self.folder)
        where = f"router 'mf' (checkpoint {self.folder})"
        if cfg.hidden_size is not None and cfg.hidden_size != self.checkpoint.dim:
            raise ConfigError(f"{where}: hidden_size is {cfg.hidden_size} but the checkpoint has dim {self.checkpoint.dim}")
        names = self.checkpoint.names
        aliases = self.checkpoint.aliases
        self.strong_index = find_model(names, cfg.strong_model, where=where, aliases=aliases)
        self.weak_index = find_model(names, cfg.weak_model, where=where, aliases=aliases)
        if self.strong_index == self.weak_index:
            raise ConfigError(f"{where}: strong_model and weak_model are the same model ({names[self.strong_index]})")
        self.weights = weights
        # A linear checkpoint (RouteLLM's layout) scores a fixed pair with one direction vector.
        self.direction = (
            pair_direction(weights, self.strong_index, self.weak_index) if self.is_linear else None
        )
        self._embedder = embedder

    @property
    def is_linear(self) -> bool:
        """Whether the pair's win logit is linear in the prompt vector (no activation, rows normalised as RouteLLM)."""
        return self.checkpoint.activation is None and self.checkpoint.normalize_models and self.weights.bias is None

    @property
    def model_names(self) -> list[str]:
        """The checkpoint's model table (one row per distinct model)."""
        return self.checkpoint.names

    @cached_property
    def embedder(self) -> Embedder:
        """The prompt embedder (built on first use, so loading a checkpoint needs no model or network)."""
        if self._embedder is not None:
            embedder = self._embedder
        else:
            from routellm.registry import get_registry

            name, options = embedder_section(self.checkpoint, self.config.embedder)
            trained_on = options.pop(MODEL_DIGEST, None)
            registry = get_registry()
            if name in EMBEDDER_EXTRAS and name not in registry.embedders:
                from routellm.extras import MissingDependencyError

                raise MissingDependencyError(
                    f"router 'mf' (checkpoint {self.folder}): the '{name}' embedder is not installed: "
                    f"pip install '{EMBEDDER_EXTRAS[name]}'"
                )
            embedder = registry.create_embedder(name, options)
            installed = embedder.cache_token() if trained_on else ""
            if trained_on and installed and installed != trained_on:
                raise ConfigError(
                    f"router 'mf': checkpoint {self.folder} was trained on another '{name}' model than the one "
                    f"configured (digest {str(trained_on)[:12]}..., configured {installed[:12]}...): retrain it with "
                    f"`routellm train mf ... --embedder {name}`, or point `embedder: {{model: ...}}` at the model it "
                    "was trained on"
                )
        if embedder.dim != self.checkpoint.text_dim:
            raise ConfigError(
                f"router 'mf': the embedder gives {embedder.dim}-d vectors but checkpoint {self.folder} "
                f"was trained on {self.checkpoint.text_dim}-d embeddings; use the embedder it was trained with"
            )
        return embedder

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return float(self.batch_calculate_win_rate([prompt])[0])

    def batch_calculate_win_rate(self, prompts: Sequence[str]) -> np.ndarray:
        prompts = list(prompts)
        if not prompts:
            return np.zeros(0, dtype=np.float64)
        x = prompt_matrix(self.checkpoint, self.embedder.embed(prompts), prompts)
        if self.direction is not None:
            return sigmoid(x @ self.direction)
        scores = model_logits(self.checkpoint, self.weights, x, [self.strong_index, self.weak_index])
        return sigmoid(scores[:, 0] - scores[:, 1])

    def batch_model_scores(self, prompts: Sequence[str], models: Sequence[str]) -> np.ndarray:
        """Each model's predicted-quality logit on each prompt, shape ``(len(prompts), len(models))``.

        ``models`` are looked up in the checkpoint's model table (exact name, alias, then a loose match);
        the difference of two columns is the logit of the first model's win rate over the second.
        """
        rows = self._rows(tuple(models))
        prompts = list(prompts)
        if not prompts or not rows:
            return np.zeros((len(prompts), len(rows)), dtype=np.float64)
        x = prompt_matrix(self.checkpoint, self.embedder.embed(prompts), prompts)
        return model_logits(self.checkpoint, self.weights, x, rows)

    def _rows(self, models: tuple[str, ...]) -> list[int]:
        """Model-table rows of ``models`` (looked up once per distinct tuple)."""
        cache = vars(self).setdefault("_rows_cache", {})
        if models not in cache:
            where = f"router 'mf' (checkpoint {self.folder})"
            names, aliases = self.checkpoint.names, self.checkpoint.aliases
            cache[models] = [find_model(names, m, where=where, aliases=aliases) for m in models]
        return cache[models]

    @classmethod
    def cache_token(cls, config: Any) -> str:
        """A digest of the packaged or local checkpoint's files: a retrained checkpoint at the same path
        gets new cache keys."""
        from routellm_router_mf.checkpoint import local_checkpoint_digest

        return local_checkpoint_digest(config.checkpoint_path)

    def training_prompt_hashes(self) -> frozenset[str] | None:
        """The training prompts recorded in the checkpoint folder (``training_prompts.json``), if any."""
        from routellm.training_overlap import load_training_hashes

        return load_training_hashes(self.folder)

    def close(self) -> None:
        if "embedder" in self.__dict__ and self._embedder is None:
            self.embedder.close()


def embedder_section(checkpoint: MFConfig, override: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The embedder name and options: the checkpoint's record, with the router config's options over it."""
    recorded = dict(checkpoint.embedder) if checkpoint.embedder else dict(ROUTELLM_EMBEDDER)
    override = dict(override or {})
    recorded_name = recorded.pop("name")
    name = override.pop("name", recorded_name)
    options = {**recorded, **override} if name == recorded_name else override
    return str(name), options
