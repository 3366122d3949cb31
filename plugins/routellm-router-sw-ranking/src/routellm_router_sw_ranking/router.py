"""The ``sw_ranking`` router: Bradley-Terry over tiers, every battle weighted by prompt similarity."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from routellm.checkpoints import HubCheckpointMixin
from routellm.errors import ConfigError
from routellm.router import Router
from routellm_router_sw_ranking.bradley_terry import fit_bradley_terry
from routellm_router_sw_ranking.ranking_data import (
    DEFAULT_RIDGE,
    ROUTELLM_STRONG,
    ROUTELLM_WEAK,
    SCORES,
    RankingData,
    pair_sums,
)

if TYPE_CHECKING:
    from routellm.embedder import Embedder

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "huggingface"


def similarity_weights(similarities: np.ndarray) -> np.ndarray:
    """RouteLLM's battle weights ``10 * 10 ** (sim / max_sim)``, row by row.

    A row whose best similarity is not positive (no battle prompt resembles the query) gets equal
    weights, where RouteLLM's formula would turn the order round or divide by zero.
    """
    top = similarities.max(axis=-1, keepdims=True)
    safe = np.where(top > 0, top, 1.0)
    weights = 10.0 * np.power(10.0, similarities / safe)
    return np.where(top > 0, weights, 10.0)


class SWRankingRouterConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: Folder made by ``routellm train sw_ranking`` (or a Hugging Face Hub repository holding one).
    checkpoint_path: str | None = None
    #: Same as ``checkpoint_path``.
    data_path: str | None = None
    #: RouteLLM's keys: battle sources (hub ids or local files) and their per-battle embeddings.
    arena_battle_datasets: list[str] | None = None
    arena_embedding_datasets: list[str] | None = None
    #: Default: the trained folder's choice, else RouteLLM's pair (matched loosely to the battles' names).
    strong_model: str | None = None
    weak_model: str | None = None
    #: Default: the trained folder's (10 for RouteLLM's keys).
    num_tiers: int | None = None
    #: Embedder for the prompts; default: the one the battles were embedded with, else ``huggingface``.
    embedder: str | None = None
    #: Its options, on top of the ones recorded with the battles' embeddings.
    embedder_config: dict[str, Any] | None = None
    split: str = "train"
    revision: str | None = None
    #: L2 penalty on the tier strengths (keeps them finite when a tier never loses).
    ridge: float = DEFAULT_RIDGE
    #: Prompts per ranking step (bounds memory: batch x distinct battle prompts floats).
    batch_size: int = 512


class SWRankingRouter(HubCheckpointMixin, Router[SWRankingRouterConfig]):
    """Similarity-weighted ranking (RouteLLM's ``sw_ranking``), batched.

    Models are rated from all battles and grouped into tiers; for a prompt, every battle is weighted
    by how similar its prompt is to this one, the tiers' Bradley-Terry strengths are fitted to the
    weighted outcomes (ties count half), and the win rate is that of the strong model's tier over
    the weak model's. Battles enter only through per-prompt, per-tier-pair sums, so a request costs
    one similarity matrix product and a Newton solve on ``num_tiers`` players.
    """

    Config = SWRankingRouterConfig

    def __init__(self, config: SWRankingRouterConfig | None = None, *, data: RankingData | None = None, embedder: Embedder | None = None):
        super().__init__(config)
        cfg = self.config
        if cfg.ridge <= 0:
            raise ConfigError("router 'sw_ranking': ridge must be positive")
        if cfg.batch_size < 1:
            raise ConfigError("router 'sw_ranking': batch_size must be at least 1")
        if cfg.num_tiers is not None and cfg.num_tiers < 2:
            raise ConfigError("router 'sw_ranking': num_tiers must be at least 2")
        self._embedder = embedder
        #: The trained folder the battles came from (None for in-memory data or RouteLLM's keys).
        self.folder = None
        self._embedder_lock = threading.Lock()
        self.data = data if data is not None else self._load_data()
        if cfg.num_tiers is not None and cfg.num_tiers != self.data.num_tiers:
            self.data = self.data.with_tiers(cfg.num_tiers)
        self.strong_model = self.data.resolve_model(cfg.strong_model or self.data.strong_model or ROUTELLM_STRONG, "strong")
        self.weak_model = self.data.resolve_model(cfg.weak_model or self.data.weak_model or ROUTELLM_WEAK, "weak")
        self._prepare()

    # ---- loading ----------------------------------------------------------------------------

    def _folder(self) -> str | None:
        cfg = self.config
        if cfg.checkpoint_path and cfg.data_path and cfg.checkpoint_path != cfg.data_path:
            raise ConfigError("router 'sw_ranking': set checkpoint_path or data_path, not both")
        return cfg.checkpoint_path or cfg.data_path

    def _load_data(self) -> RankingData:
        from routellm_router_sw_ranking.sources import from_seed_config, resolve_folder

        cfg = self.config
        folder = self._folder()
        if folder and cfg.arena_battle_datasets:
            raise ConfigError(
                "router 'sw_ranking': set either checkpoint_path (a trained folder) or arena_battle_datasets, not both"
            )
        if folder:
            self.folder = resolve_folder(folder, cfg.revision)
            return RankingData.load(self.folder)
        if cfg.arena_battle_datasets:
            return from_seed_config(
                cfg.arena_battle_datasets,
                cfg.arena_embedding_datasets,
                embedder=_LazyEmbedder(self),
                embedder_record=self._embedder_record(),
                num_tiers=cfg.num_tiers,
                split=cfg.split,
                ridge=cfg.ridge,
            )
        raise ConfigError(
            "router 'sw_ranking' needs battles: set checkpoint_path to a folder made by "
            "`routellm train sw_ranking --battles SOURCE --out DIR`, or RouteLLM's arena_battle_datasets "
            "(with arena_embedding_datasets)"
        )

    def _save_pretrained(self, directory: Path) -> None:
        self.data.save(directory)  # also when built from RouteLLM's arena datasets

    def _embedder_record(self) -> dict[str, Any]:
        cfg = self.config
        return {"name": cfg.embedder or DEFAULT_EMBEDDER, "config": dict(cfg.embedder_config or {})}

    @property
    def embedder(self) -> Embedder:
        """The prompt embedder, built on first use (so ranking precomputed embeddings needs no torch)."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    self._embedder = self._build_embedder()
        return self._embedder

    def _build_embedder(self) -> Embedder:
        from routellm.registry import get_registry

        cfg = self.config
        recorded = self.data.embedder if hasattr(self, "data") else {}
        name = cfg.embedder or recorded.get("name") or DEFAULT_EMBEDDER
        # Options given here go on top of those the battles were embedded with (same embedder only).
        section = dict(recorded.get("config") or {}) if recorded.get("name") == name else {}
        section.update(cfg.embedder_config or {})
        if recorded.get("name") and recorded["name"] != name:
            logger.warning(
                "sw_ranking: battles were embedded with %r but prompts will be embedded with %r; "
                "similarities are only meaningful in one embedding space",
                recorded["name"],
                name,
            )
        embedder = get_registry().create_embedder(name, section)
        if hasattr(self, "data") and embedder.dim != self.data.embeddings.shape[1]:
            raise ConfigError(
                f"router 'sw_ranking': embedder '{name}' gives {embedder.dim}-d vectors but the battles' embeddings "
                f"are {self.data.embeddings.shape[1]}-d; use the embedder they were made with "
                f"({recorded.get('name') or 'see the data source'} {recorded.get('config') or ''})"
            )
        return embedder

    def _prepare(self) -> None:
        """Per distinct battle prompt, the count and score of battles for each pair of tiers."""
        data = self.data
        tier_of = data.tiers
        battles = data.battles
        ta = battles["model_a"].replace_strict(tier_of).to_numpy().astype(np.intp)
        tb = battles["model_b"].replace_strict(tier_of).to_numpy().astype(np.intp)
        score = battles["winner"].replace_strict(SCORES).to_numpy().astype(np.float64)
        group = battles["prompt_id"].to_numpy().astype(np.intp)
        self.n_tiers = max(tier_of.values()) + 1
        self.strong_tier = tier_of[self.strong_model]
        self.weak_tier = tier_of[self.weak_model]
        if self.strong_tier == self.weak_tier:
            raise ConfigError(
                f"router 'sw_ranking': strong model '{self.strong_model}' and weak model '{self.weak_model}' are in "
                f"the same tier ({self.strong_tier} of {self.n_tiers}), so every prompt would score 0.5; "
                "raise num_tiers or pick models further apart"
            )
        self.first, self.second, self.counts, self.scores = pair_sums(ta, tb, score, group, len(data.prompts))
        self._keys = np.ascontiguousarray(data.embeddings, dtype=np.float64)
        # Newton starts from the fit with every battle weighted equally (the weights only vary 10-fold).
        self._init = fit_bradley_terry(
            self.scores.sum(0), self.counts.sum(0), self.first, self.second, self.n_tiers, ridge=self.config.ridge
        )

    # ---- scoring ----------------------------------------------------------------------------

    def ratings_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """Per prompt, every tier's Bradley-Terry strength (natural-log scale): shape ``(n, num_tiers)``."""
        q = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
        if q.shape[1] != self._keys.shape[1]:
            raise ValueError(f"prompt embeddings have {q.shape[1]} dims, the battles' have {self._keys.shape[1]}")
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        out = np.empty((len(q), self.n_tiers))
        step = self.config.batch_size
        for start in range(0, len(q), step):
            weights = similarity_weights(q[start : start + step] @ self._keys.T)
            out[start : start + step] = fit_bradley_terry(
                weights @ self.scores,
                weights @ self.counts,
                self.first,
                self.second,
                self.n_tiers,
                ridge=self.config.ridge,
                init=self._init,
            )
        return out

    def batch_model_scores(self, prompts: Sequence[str], models: Sequence[str]) -> np.ndarray:
        """Each model's tier strength for each prompt (logit scale), for N-model routing.

        A model scores its tier's similarity-weighted Bradley-Terry strength, so two models in one tier
        score alike; every name must be one of the battles' models (matched loosely).
        """
        tiers = [self.data.tiers[self.data.resolve_model(m, "routed")] for m in models]
        if len(prompts) == 0:
            return np.zeros((0, len(models)))
        ratings = self.ratings_from_embeddings(self.embedder.embed(list(prompts)))
        return ratings[:, tiers]

    def win_rates_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """Strong win rates for prompts already embedded (rows), as float64."""
        q = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
        if q.shape[1] != self._keys.shape[1]:
            raise ValueError(f"prompt embeddings have {q.shape[1]} dims, the battles' have {self._keys.shape[1]}")
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        out = np.empty(len(q))
        step = self.config.batch_size
        for start in range(0, len(q), step):
            weights = similarity_weights(q[start : start + step] @ self._keys.T)
            theta = fit_bradley_terry(
                weights @ self.scores,
                weights @ self.counts,
                self.first,
                self.second,
                self.n_tiers,
                ridge=self.config.ridge,
                init=self._init,
            )
            gap = theta[:, self.strong_tier] - theta[:, self.weak_tier]
            out[start : start + step] = 1.0 / (1.0 + np.exp(-gap))
        return out

    def batch_calculate_win_rate(self, prompts: Sequence[str]) -> np.ndarray:
        if len(prompts) == 0:
            return np.empty(0)
        return self.win_rates_from_embeddings(self.embedder.embed(list(prompts)))

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return float(self.batch_calculate_win_rate([prompt])[0])

    def training_prompt_hashes(self) -> frozenset[str] | None:
        """The training prompts recorded in the trained folder (``training_prompts.json``), if any."""
        from routellm.training_overlap import load_training_hashes

        return load_training_hashes(self.folder)

    def close(self) -> None:
        if self._embedder is not None:
            self._embedder.close()


class _LazyEmbedder:
    """Stands in for the router's embedder while its data loads (builds the real one on first embed)."""

    def __init__(self, router: SWRankingRouter) -> None:
        self.router = router

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self.router.embedder.embed(texts, progress=progress)
