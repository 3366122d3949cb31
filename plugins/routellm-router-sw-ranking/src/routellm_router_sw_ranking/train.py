"""``routellm train sw_ranking``: embed the battle prompts once and write a trained folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from routellm.errors import ConfigError


def train_command(
    battles: Annotated[
        str, typer.Option("--battles", help="Battles in the arena schema: a local parquet/jsonl/csv file or a Hugging Face dataset id.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write (config.json, safetensors, parquet, README.md).")],
    embedder: Annotated[str, typer.Option(help="Embedder plugin for the prompts.")] = "huggingface",
    embedder_model: Annotated[
        str | None, typer.Option(help="Shortcut for the embedder's `model` option (a hub id or local folder).")
    ] = None,
    embedder_config: Annotated[
        str | None, typer.Option(help='The embedder\'s options as JSON, e.g. \'{"batch_size": 32}\'.')
    ] = None,
    strong_model: Annotated[
        str | None,
        typer.Option(help="Default strong model stored in the folder (default: gpt-4-1106-preview, matched loosely)."),
    ] = None,
    weak_model: Annotated[
        str | None,
        typer.Option(help="Default weak model stored in the folder (default: mixtral-8x7b-instruct-v0.1, matched loosely)."),
    ] = None,
    num_tiers: Annotated[int, typer.Option(min=2, help="Tiers to group the models into.")] = 10,
    split: Annotated[str, typer.Option(help="Dataset split, for a Hugging Face dataset id.")] = "train",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing trained folder.")] = False,
) -> None:
    """Prepare the sw_ranking router: rate and tier the models, embed each distinct battle prompt once."""
    from routellm.battles import load_battles
    from routellm.registry import get_registry
    from routellm_router_sw_ranking.ranking_data import (
        ROUTELLM_STRONG,
        ROUTELLM_WEAK,
        RankingData,
        distinct_prompts,
        drop_short_prompts,
        embed_prompts,
    )

    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"{out} exists and is not empty; pass --overwrite to replace it")
    section: dict = {}
    if embedder_config:
        try:
            section = json.loads(embedder_config)
        except ValueError as exc:
            raise ConfigError(f"--embedder-config is not valid JSON: {exc}") from None
        if not isinstance(section, dict):
            raise ConfigError("--embedder-config must be a JSON object of embedder options")
    if embedder_model:
        section["model"] = embedder_model
    loaded = load_battles(battles, split=split)
    frame = drop_short_prompts(loaded)  # as RouteLLM: first turns under 16 characters say too little
    prompts = distinct_prompts(frame)
    typer.echo(
        f"{frame.height} battles ({loaded.height - frame.height} with a first turn under 16 characters dropped), "
        f"{len(prompts)} distinct prompts from {battles}"
    )
    model = get_registry().create_embedder(embedder, section)
    embeddings = embed_prompts(prompts, model, progress=True)
    data = RankingData.from_battles(
        frame,
        embeddings,
        num_tiers=num_tiers,
        embedder={"name": embedder, "config": section},
        source=str(battles),
    )
    data.strong_model = data.resolve_model(strong_model or ROUTELLM_STRONG, "strong")
    data.weak_model = data.resolve_model(weak_model or ROUTELLM_WEAK, "weak")
    if data.tiers[data.strong_model] == data.tiers[data.weak_model]:
        raise ConfigError(
            f"strong model '{data.strong_model}' and weak model '{data.weak_model}' fall in the same tier; "
            "raise --num-tiers or pick models further apart"
        )
    data.save(out)
    n_tiers = len(set(data.tiers.values()))
    typer.echo(
        f"wrote {out}: {len(data.ratings)} models in {n_tiers} tiers; strong {data.strong_model} "
        f"(tier {data.tiers[data.strong_model]}), weak {data.weak_model} (tier {data.tiers[data.weak_model]})"
    )
