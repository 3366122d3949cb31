"""Pairwise preference data ("battles") in the ``lmsys/lmsys-arena-human-preference-55k`` schema.

One loader serves a Hugging Face dataset id (read as Parquet with polars) and local parquet / jsonl / json /
csv files. Needs polars (the ``train`` or ``eval`` extra).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from routellm.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl

DEFAULT_BATTLES = "lmsys/lmsys-arena-human-preference-55k"
REQUIRED = ("model_a", "model_b", "prompt", "winner_model_a", "winner_model_b", "winner_tie")
#: Values of the normalised ``winner`` column.
WINNERS = ("model_a", "model_b", "tie")
LOCAL_SUFFIXES = {".parquet", ".jsonl", ".json", ".csv"}
#: A Hugging Face dataset id, ``owner/name``.
HUB_DATASET = re.compile(r"[\w.-]+/[\w.-]+")


def hub_parquet_path(dataset: str, *, split: str = "train", config: str = "default") -> str:
    """polars' ``hf://`` path to the Parquet files of a Hugging Face dataset's split: the Hub's automatic
    Parquet conversion (revision ``~parquet``, i.e. ``refs/convert/parquet``), which every public dataset has."""
    return f"hf://datasets/{dataset}@~parquet/{config}/{split}/*.parquet"


def read_table(source: str | Path, *, split: str = "train") -> pl.DataFrame:
    """Read a local parquet/jsonl/json/csv file, an ``hf://`` path, or a Hugging Face dataset id, as a polars frame.

    A dataset id is read from the Hub's Parquet conversion with polars (``hf://``; token from ``HF_TOKEN``),
    so neither ``datasets`` nor pyarrow is needed.
    """
    import polars as pl

    text = str(source)
    path = Path(source)
    if text.startswith("hf://"):
        return _read_remote(pl, text, Path(text.split("@", 1)[0]).suffix.lower() or ".parquet", source)
    if path.suffix.lower() in LOCAL_SUFFIXES or path.exists():
        if not path.exists():
            raise ConfigError(f"battles file not found: {path}")
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix == ".jsonl":
            return pl.read_ndjson(path)
        if suffix == ".json":
            return pl.read_json(path)
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema_length=10000)
        raise ConfigError(f"{path}: unsupported file type '{suffix}' (use {', '.join(sorted(LOCAL_SUFFIXES))})")
    if not HUB_DATASET.fullmatch(text):
        raise ConfigError(f"battles source not found: '{text}' is neither a local file nor a Hugging Face dataset id")
    return _read_remote(pl, hub_parquet_path(text, split=split), ".parquet", source)


def _read_remote(pl, url: str, suffix: str, source: str | Path) -> pl.DataFrame:
    try:
        if suffix == ".csv":
            return pl.read_csv(url, infer_schema_length=10000)
        if suffix == ".jsonl":
            return pl.read_ndjson(url)
        return pl.read_parquet(url)
    except Exception as exc:
        reason = " ".join(str(exc).split())[:300]
        raise ConfigError(
            f"could not read '{source}' from the Hugging Face Hub ({type(exc).__name__}: {reason}); "
            "pass a local parquet/jsonl/csv file in the arena schema instead"
        ) from None


def _first_turn(value: str) -> str:
    """The first user turn of an arena ``prompt`` cell (a JSON list of turns), or the text itself."""
    if value.startswith("["):
        try:
            turns = json.loads(value)
        except ValueError:
            return value
        if isinstance(turns, list) and turns:
            return str(turns[0] if turns[0] is not None else "")
    return value


def _text_chars(value: str | None) -> int:
    """Characters of an arena ``response`` cell (a JSON list of turns, or plain text), all turns together."""
    if value is None:
        return 0
    if value.startswith("["):
        try:
            turns = json.loads(value)
        except ValueError:
            return len(value)
        if isinstance(turns, list):
            return sum(len(str(t)) for t in turns if t is not None)
    return len(value)


def load_battles(
    source: str | Path, *, split: str = "train", row_index: bool = False, response_lengths: bool = False
) -> pl.DataFrame:
    """Load battles, normalised to columns ``prompt`` (first user turn), ``model_a``, ``model_b``,
    ``winner`` (one of :data:`WINNERS`) and ``preference`` (probability that model_b is better;
    1.0 / 0.0 / 0.5 from the winner columns when the source has none).

    With ``row_index`` a ``row`` column keeps each battle's row number in the source, so data
    aligned with the source rows (such as precomputed embeddings) can follow the filtering.
    With ``response_lengths``, also ``response_a_chars`` / ``response_b_chars`` (null when the source has
    no response columns), e.g. to control for a judge's preference for long answers."""
    import polars as pl

    frame = read_table(source, split=split)
    missing = [column for column in REQUIRED if column not in frame.columns]
    if missing:
        raise ConfigError(
            f"{source}: not in the arena battles schema, missing column(s) {', '.join(missing)} "
            f"(expected {', '.join(REQUIRED)})"
        )
    winner = (
        pl.when(pl.col("winner_model_a") == 1)
        .then(pl.lit("model_a"))
        .when(pl.col("winner_model_b") == 1)
        .then(pl.lit("model_b"))
        .otherwise(pl.lit("tie"))
    )
    preference = (
        pl.col("preference").cast(pl.Float64)
        if "preference" in frame.columns
        else pl.when(pl.col("winner_model_b") == 1).then(1.0).when(pl.col("winner_model_a") == 1).then(0.0).otherwise(0.5)
    )
    if row_index:
        frame = frame.with_row_index("row")
    columns = [
        *([pl.col("row")] if row_index else []),
        pl.col("prompt").cast(pl.String).map_elements(_first_turn, return_dtype=pl.String).alias("prompt"),
        pl.col("model_a").cast(pl.String),
        pl.col("model_b").cast(pl.String),
        winner.alias("winner"),
        preference.alias("preference"),
    ]
    if response_lengths:
        for side in ("a", "b"):
            name = f"response_{side}"
            columns.append(
                pl.col(name).cast(pl.String).map_elements(_text_chars, return_dtype=pl.Int64).alias(f"{name}_chars")
                if name in frame.columns
                else pl.lit(None, dtype=pl.Int64).alias(f"{name}_chars")
            )
    out = frame.select(columns)
    return out.filter(pl.col("prompt").str.len_chars() > 0)
