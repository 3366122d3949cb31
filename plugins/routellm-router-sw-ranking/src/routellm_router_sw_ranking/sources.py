"""Loading battles and their embeddings from RouteLLM's config keys, and trained folders from the Hub."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from routellm.errors import ConfigError
from routellm_router_sw_ranking.ranking_data import (
    DEFAULT_NUM_TIERS,
    DEFAULT_RIDGE,
    RankingData,
    distinct_prompts,
    drop_short_prompts,
    embed_prompts,
)

logger = logging.getLogger(__name__)

#: Column holding the vectors in RouteLLM's embedding datasets (``routellm/arena_battles_embeddings``).
EMBEDDING_COLUMN = "embeddings"


def load_embeddings(source: str, *, split: str = "train") -> np.ndarray:
    """Per-battle embeddings: a local ``.npy`` / ``.safetensors`` file, or a table (local parquet/jsonl or a
    Hugging Face dataset id, as RouteLLM's ``arena_embedding_datasets``) with an ``embeddings`` column."""
    from routellm.battles import read_table

    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in {".npy", ".safetensors"}:
        if not path.is_file():
            raise ConfigError(f"router 'sw_ranking': embeddings file not found: {path}")
        if suffix == ".npy":
            return np.load(path, allow_pickle=False).astype(np.float32, copy=False)
        from safetensors.numpy import load_file

        tensors = load_file(path)
        if EMBEDDING_COLUMN in tensors:
            return tensors[EMBEDDING_COLUMN].astype(np.float32, copy=False)
        if len(tensors) == 1:
            return next(iter(tensors.values())).astype(np.float32, copy=False)
        raise ConfigError(f"router 'sw_ranking': {path} holds {sorted(tensors)}; name the tensor '{EMBEDDING_COLUMN}'")
    frame = read_table(source, split=split)
    if EMBEDDING_COLUMN not in frame.columns:
        raise ConfigError(
            f"router 'sw_ranking': {source} has no '{EMBEDDING_COLUMN}' column (columns: {', '.join(frame.columns)})"
        )
    import polars as pl

    column = frame[EMBEDDING_COLUMN]
    if isinstance(column.dtype, pl.Array):
        return column.to_numpy().astype(np.float32)
    if not isinstance(column.dtype, pl.List):
        raise ConfigError(f"router 'sw_ranking': {source}: '{EMBEDDING_COLUMN}' must hold lists of floats, not {column.dtype}")
    if column.list.len().n_unique() > 1:
        raise ConfigError(f"router 'sw_ranking': {source}: embeddings of different lengths")
    return column.explode().to_numpy().astype(np.float32).reshape(frame.height, -1)


def from_seed_config(
    battle_sources: Sequence[str],
    embedding_sources: Sequence[str] | None,
    *,
    embedder: Any,
    embedder_record: Mapping[str, Any],
    num_tiers: int | None = None,
    split: str = "train",
    ridge: float = DEFAULT_RIDGE,
) -> RankingData:
    """RouteLLM's ``arena_battle_datasets`` / ``arena_embedding_datasets``: concatenated battles, each
    battle source paired with the embeddings source at the same position. As in RouteLLM, battles whose
    first turn is under 16 characters are dropped; an embeddings source has one vector per kept battle
    (RouteLLM's files, e.g. ``routellm/arena_battles_embeddings``) or one per row of the battles source.
    Without embedding sources the distinct prompts are embedded now with ``embedder``."""
    import polars as pl

    from routellm.battles import load_battles

    if not battle_sources:
        raise ConfigError("router 'sw_ranking': arena_battle_datasets is empty")
    if embedding_sources is not None and len(embedding_sources) != len(battle_sources):
        raise ConfigError(
            f"router 'sw_ranking': {len(battle_sources)} arena_battle_datasets but {len(embedding_sources)} "
            "arena_embedding_datasets; give one embeddings source per battles source, in the same order"
        )
    frames, vectors = [], []
    for i, source in enumerate(battle_sources):
        battles = drop_short_prompts(load_battles(source, split=split, row_index=True))
        if embedding_sources is not None:
            emb = load_embeddings(embedding_sources[i], split=split)
            rows = battles["row"].to_numpy()
            if len(emb) == battles.height:  # RouteLLM's layout: aligned with the kept battles
                vectors.append(emb)
            elif rows.size and rows.max() < len(emb):  # aligned with the source's rows
                vectors.append(emb[rows])
            else:
                raise ConfigError(
                    f"router 'sw_ranking': {embedding_sources[i]} has {len(emb)} embeddings but {source} has "
                    f"{battles.height} battles with a first turn of at least 16 characters (and at least "
                    f"{rows.max() + 1 if rows.size else 0} rows); give one vector per kept battle or per row, in order"
                )
        frames.append(battles.drop("row"))
    battles = pl.concat(frames)
    label = ", ".join(battle_sources)
    if embedding_sources is not None:
        embeddings = np.concatenate(vectors)
    else:
        prompts = distinct_prompts(battles)
        logger.warning(
            "sw_ranking: embedding %d battle prompts now; `routellm train sw_ranking` stores them once", len(prompts)
        )
        embeddings = embed_prompts(prompts, embedder, progress=True)
    return RankingData.from_battles(
        battles,
        embeddings,
        num_tiers=num_tiers or DEFAULT_NUM_TIERS,
        embedder=embedder_record,
        source=label,
        ridge=ridge,
    )


def resolve_folder(path_or_id: str, revision: str | None = None) -> Path:
    """A local trained folder: ``path_or_id`` itself, or a snapshot of that Hugging Face Hub repository."""
    from routellm.checkpoints import resolve_checkpoint

    return resolve_checkpoint(
        path_or_id,
        owner="router 'sw_ranking'",
        revision=revision,
        allow_patterns=["*"],
        what="trained folder",
        hint="; make one with `routellm train sw_ranking --battles SOURCE --out DIR`",
    )
