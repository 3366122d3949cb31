"""What the router ranks with: battles, one embedding per distinct prompt, model ratings and tiers.

A trained folder (``routellm train sw_ranking``) holds it, so serving never re-embeds battles::

    config.json              format, embedder, default strong/weak models, num_tiers, counts
    embeddings.safetensors   "embeddings": (prompts, dim) float32, L2-normalised
    prompts.parquet          prompt_id, prompt
    battles.parquet          prompt_id, model_a, model_b, winner (model_a / model_b / tie)
    tiers.parquet            model, rating (Elo scale), tier (0 = best), battles
    README.md                model card
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from routellm.errors import ConfigError
from routellm_router_sw_ranking.bradley_terry import elo_ratings, fit_bradley_terry
from routellm_router_sw_ranking.tiers import compute_tiers

if TYPE_CHECKING:
    import polars as pl

logger = logging.getLogger(__name__)

FORMAT = "routellm-sw-ranking"
FORMAT_VERSION = 1
FILES = ("config.json", "embeddings.safetensors", "prompts.parquet", "battles.parquet", "tiers.parquet")
#: RouteLLM's model pair.
ROUTELLM_STRONG = "gpt-4-1106-preview"
ROUTELLM_WEAK = "mixtral-8x7b-instruct-v0.1"
DEFAULT_NUM_TIERS = 10
DEFAULT_RIDGE = 1e-3
#: A battle's score for model_a.
SCORES = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5}
#: RouteLLM's ``preprocess_battles`` drops battles whose first turn, stripped, is shorter than this.
MIN_PROMPT_CHARS = 16


def drop_short_prompts(battles: pl.DataFrame) -> pl.DataFrame:
    """The battles RouteLLM's sw_ranking keeps: first turn at least :data:`MIN_PROMPT_CHARS` characters
    once stripped (Python's ``str.strip``, as RouteLLM)."""
    import polars as pl

    stripped = pl.col("prompt").map_elements(lambda p: len(p.strip()), return_dtype=pl.Int64)
    return battles.filter(stripped >= MIN_PROMPT_CHARS)


@dataclass
class RankingData:
    """Battles over distinct prompts, their embeddings, and the models' ratings and tiers."""

    prompts: list[str]
    embeddings: np.ndarray
    battles: pl.DataFrame
    ratings: dict[str, float]
    tiers: dict[str, int]
    num_tiers: int
    embedder: dict[str, Any] = field(default_factory=dict)
    strong_model: str | None = None
    weak_model: str | None = None
    source: str = ""

    @property
    def models(self) -> list[str]:
        """Models, best rated first."""
        return sorted(self.ratings, key=lambda m: -self.ratings[m])

    def with_tiers(self, num_tiers: int) -> RankingData:
        """A copy regrouped into ``num_tiers`` tiers (ratings are kept)."""
        from dataclasses import replace

        return replace(self, tiers=compute_tiers(self.ratings, num_tiers), num_tiers=num_tiers)

    def resolve_model(self, name: str, role: str) -> str:
        """The battles' spelling of ``name``; unknown names raise listing the known ones.

        Besides exact names, a name matches when it is equal ignoring case and punctuation
        (``gpt-4-1106-preview`` is ``gpt4_1106_preview``), or is the start of exactly one model's
        name that way (``mixtral-8x7b-instruct-v0.1`` is ``Mixtral-8x7B-Instruct-v0.1_concise``).
        """
        if name in self.ratings:
            return name
        key = _canonical(name)
        exact = [m for m in self.ratings if _canonical(m) == key]
        prefix = [m for m in self.ratings if _canonical(m).startswith(key)]
        found = exact if len(exact) == 1 else prefix if len(prefix) == 1 else []
        if found:
            logger.info("%s model %r matches %r in the battles", role, name, found[0])
            return found[0]
        known = ", ".join(sorted(self.ratings, key=str.lower))
        raise ConfigError(
            f"router 'sw_ranking': {role}_model '{name}' is not in the battles ({self.source or 'given data'}); "
            f"known models: {known}"
        )

    # ---- building ---------------------------------------------------------------------------

    @classmethod
    def from_battles(
        cls,
        battles: pl.DataFrame,
        embeddings: np.ndarray,
        *,
        num_tiers: int = DEFAULT_NUM_TIERS,
        embedder: Mapping[str, Any] | None = None,
        source: str = "",
        ridge: float = DEFAULT_RIDGE,
    ) -> RankingData:
        """From normalised battles (``prompt`` or ``prompt_id``, ``model_a``, ``model_b``, ``winner``).

        ``embeddings`` has one row per distinct prompt, in the order of first appearance in
        ``battles`` (as :func:`distinct_prompts` returns them), or one row per battle, in which case
        the first battle's row is kept for each prompt.
        """
        import polars as pl

        prompts = distinct_prompts(battles)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2:
            raise ConfigError(f"{source or 'embeddings'}: expected a 2-d array of embeddings, got shape {embeddings.shape}")
        if len(embeddings) != len(prompts):
            if len(embeddings) != battles.height:
                raise ConfigError(
                    f"{source or 'embeddings'}: {len(embeddings)} embeddings for {battles.height} battles "
                    f"with {len(prompts)} distinct prompts; need one per battle or one per distinct prompt"
                )
            rows = battles.with_row_index("_row").unique("prompt", keep="first", maintain_order=True)["_row"]
            embeddings = embeddings[rows.to_numpy()]
        battles = battles.filter(pl.col("model_a") != pl.col("model_b"))
        if battles.height == 0:
            raise ConfigError(f"{source or 'battles'}: no battles between two different models")
        index = {p: i for i, p in enumerate(prompts)}
        battles = battles.select(
            pl.col("prompt").replace_strict(index, return_dtype=pl.Int32).alias("prompt_id"),
            "model_a",
            "model_b",
            "winner",
        )
        ratings = model_ratings(battles, ridge=ridge)
        return cls(
            prompts=prompts,
            embeddings=normalize_rows(embeddings),
            battles=battles,
            ratings=ratings,
            tiers=compute_tiers(ratings, num_tiers),
            num_tiers=num_tiers,
            embedder=dict(embedder or {}),
            source=source,
        )

    # ---- folder -----------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write the trained folder (see the module docstring)."""
        import polars as pl
        from safetensors.numpy import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({"embeddings": np.ascontiguousarray(self.embeddings, dtype=np.float32)}, folder / "embeddings.safetensors")
        pl.DataFrame({"prompt_id": np.arange(len(self.prompts), dtype=np.int32), "prompt": self.prompts}).write_parquet(
            folder / "prompts.parquet"
        )
        self.battles.write_parquet(folder / "battles.parquet")
        counts = battle_counts(self.battles)
        models = self.models
        pl.DataFrame(
            {
                "model": models,
                "rating": [self.ratings[m] for m in models],
                "tier": [self.tiers[m] for m in models],
                "battles": [counts.get(m, 0) for m in models],
            },
            schema_overrides={"tier": pl.Int32, "battles": pl.Int64},
        ).write_parquet(folder / "tiers.parquet")
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "embedder": self.embedder,
            "strong_model": self.strong_model,
            "weak_model": self.weak_model,
            "num_tiers": self.num_tiers,
            "num_prompts": len(self.prompts),
            "num_battles": self.battles.height,
            "num_models": len(self.ratings),
            "embedding_dim": int(self.embeddings.shape[1]),
            "source": self.source,
        }
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        (folder / "README.md").write_text(model_card(self))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> RankingData:
        """Read a trained folder written by :meth:`save`."""
        import polars as pl
        from safetensors.numpy import load_file

        folder = Path(folder)
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing:
            raise ConfigError(
                f"router 'sw_ranking': {folder} is not a trained sw_ranking folder (missing {', '.join(missing)}); "
                "make one with `routellm train sw_ranking --battles SOURCE --out DIR`"
            )
        config = json.loads((folder / "config.json").read_text())
        if config.get("format") != FORMAT or config.get("format_version", 0) > FORMAT_VERSION:
            raise ConfigError(
                f"router 'sw_ranking': {folder}/config.json has format {config.get('format')!r} "
                f"version {config.get('format_version')!r}; this plugin reads {FORMAT!r} up to version {FORMAT_VERSION}"
            )
        embeddings = load_file(folder / "embeddings.safetensors")["embeddings"]
        prompts = pl.read_parquet(folder / "prompts.parquet").sort("prompt_id")["prompt"].to_list()
        tiers = pl.read_parquet(folder / "tiers.parquet")
        if len(prompts) != len(embeddings):
            raise ConfigError(f"router 'sw_ranking': {folder}: {len(embeddings)} embeddings for {len(prompts)} prompts")
        return cls(
            prompts=prompts,
            embeddings=normalize_rows(embeddings),
            battles=pl.read_parquet(folder / "battles.parquet"),
            ratings=dict(zip(tiers["model"].to_list(), tiers["rating"].to_list(), strict=True)),
            tiers=dict(zip(tiers["model"].to_list(), tiers["tier"].to_list(), strict=True)),
            num_tiers=int(config["num_tiers"]),
            embedder=dict(config.get("embedder") or {}),
            strong_model=config.get("strong_model"),
            weak_model=config.get("weak_model"),
            source=str(config.get("source") or folder),
        )


def distinct_prompts(battles: pl.DataFrame) -> list[str]:
    """The battles' distinct prompts in order of first appearance."""
    return battles["prompt"].unique(maintain_order=True).to_list()


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32), so a dot product is the cosine similarity."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def battle_counts(battles: pl.DataFrame) -> dict[str, int]:
    """Battles per model."""
    import polars as pl

    both = pl.concat([battles.select(model="model_a"), battles.select(model="model_b")])
    counts = both.group_by("model").len()
    return dict(zip(counts["model"].to_list(), counts["len"].to_list(), strict=True))


def pair_sums(
    player_a: np.ndarray, player_b: np.ndarray, score_a: np.ndarray, group: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Battle counts and scores per (group, pair of different players).

    Returns ``first, second`` (the pairs met, ``first < second``) and ``totals, wins`` of shape
    ``(n_groups, pairs)``: battles of each pair in each group, and ``first``'s score in them.
    Battles between a player and itself are left out: they say nothing about the order.
    """
    keep = player_a != player_b
    a, b, s, g = player_a[keep], player_b[keep], score_a[keep], group[keep]
    first, second = np.minimum(a, b), np.maximum(a, b)
    score_first = np.where(a == first, s, 1.0 - s)
    pairs, pair_index = np.unique(np.stack([first, second], axis=1), axis=0, return_inverse=True)
    pair_index = pair_index.reshape(-1)
    totals = np.zeros((n_groups, len(pairs)))
    wins = np.zeros((n_groups, len(pairs)))
    np.add.at(totals, (g, pair_index), 1.0)
    np.add.at(wins, (g, pair_index), score_first)
    return pairs[:, 0], pairs[:, 1], totals, wins


def model_ratings(battles: pl.DataFrame, *, ridge: float = DEFAULT_RIDGE) -> dict[str, float]:
    """Each model's Elo-scale rating from all battles, unweighted (RouteLLM's ``compute_elo_mle_with_tie``)."""
    models = sorted(set(battles["model_a"].to_list()) | set(battles["model_b"].to_list()))
    index = {m: i for i, m in enumerate(models)}
    a = battles["model_a"].replace_strict(index).to_numpy()
    b = battles["model_b"].replace_strict(index).to_numpy()
    s = battles["winner"].replace_strict(SCORES).to_numpy()
    first, second, totals, wins = pair_sums(a, b, s, np.zeros(len(a), dtype=np.intp), 1)
    theta = fit_bradley_terry(wins[0], totals[0], first, second, len(models), ridge=ridge)
    return dict(zip(models, elo_ratings(theta).tolist(), strict=True))


def _canonical(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def model_card(data: RankingData) -> str:
    """The folder's README: what it holds and how to use it."""
    tiers: dict[int, list[str]] = {}
    for model in data.models:
        tiers.setdefault(data.tiers[model], []).append(model)
    rows = "\n".join(
        f"| {tier} | {', '.join(f'{m} ({data.ratings[m]:.0f})' for m in models)} |" for tier, models in sorted(tiers.items())
    )
    embedder = data.embedder.get("name", "?")
    section = json.dumps(data.embedder.get("config") or {})
    return f"""---
library_name: routellm
tags: [routellm, router, sw_ranking]
---
# sw_ranking router data

Similarity-weighted ranking router (`sw_ranking`) for [routellm](https://github.com/lm-sys/RouteLLM): battles,
one embedding per distinct prompt, model ratings and tiers. Made by `routellm train sw_ranking`.

- battles: {data.battles.height} from `{data.source}`
- distinct prompts: {len(data.prompts)}, embedded with `{embedder}` {section} ({data.embeddings.shape[1]} dims)
- models: {len(data.ratings)} in {len(tiers)} tiers
- default strong model: `{data.strong_model}`; default weak model: `{data.weak_model}`

Use it:

```yaml
sw_ranking:
  checkpoint_path: <this folder>
```

## Tiers (Elo-scale rating from all battles)

| tier | models |
|---|---|
{rows}
"""


def embed_prompts(prompts: Sequence[str], embedder: Any, *, progress: bool = False) -> np.ndarray:
    """Embed ``prompts`` with a routellm embedder (batched, optionally with a progress bar)."""
    return np.asarray(embedder.embed(list(prompts), progress=progress), dtype=np.float32)
