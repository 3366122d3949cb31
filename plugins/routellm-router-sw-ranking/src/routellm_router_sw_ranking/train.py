"""``routellm train sw_ranking``: embed the battle prompts once and write a trained folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from routellm.errors import ConfigError
from routellm_train.finetune import BenchmarkOption, DataDirOption, NearDuplicateOption, SameModelOption


def train_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write (config.json, safetensors, parquet, README.md).")],
    battles: Annotated[
        str | None,
        typer.Option("--battles", help="Battles in the arena schema: a local parquet/jsonl/csv file or a Hugging Face dataset id."),
    ] = None,
    results: Annotated[
        list[str] | None,
        typer.Option(
            "--results",
            help="Per-prompt results of several models instead of battles (a named source such as routerbench or "
            "mmlu_pro, a file or a dataset id; SOURCE:WEIGHT; repeatable), turned into battles after decontamination.",
        ),
    ] = None,
    data_dir: DataDirOption = None,
    benchmark: BenchmarkOption = None,
    same_model: SameModelOption = None,
    near_duplicate: NearDuplicateOption = 0.95,
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
    import polars as pl

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
    if (battles is None) == (not results):
        raise ConfigError("give either --battles or --results (repeatable)")
    model = get_registry().create_embedder(embedder, section)
    extra: dict = {}
    if results:
        from routellm_train.embedding_cache import cache_for
        from routellm_train.results import prepare_results, results_to_battles, sources_record

        cache = cache_for(embedder, model)  # shared with the other trainers: each prompt is embedded once
        tables, report = prepare_results(
            list(results), embed=lambda texts: cache.embed(texts), data_dir=data_dir, benchmarks=benchmark,
            threshold=near_duplicate or None, echo=typer.echo,
        )
        # sw_ranking counts battles (no weights): a source of weight w contributes its battles round(w) times.
        frame = results_to_battles(tables)
        if same_model:
            synonyms = dict(pair.split("=", 1) for pair in same_model)
            frame = frame.with_columns(pl.col("model_a").replace(synonyms), pl.col("model_b").replace(synonyms))
        if frame["weight"].n_unique() > 1 or frame["weight"][0] != 1.0:
            frame = frame.with_columns(pl.col("weight").round().cast(pl.Int64).clip(1)).select(
                pl.all().repeat_by("weight").explode()
            )
        frame = frame.drop("weight")
        source = "results: " + ", ".join(results)
        extra = {"sources": sources_record(tables, report)}
    else:
        assert battles is not None  # --battles or --results, checked above
        loaded = load_battles(battles, split=split)
        frame = drop_short_prompts(loaded)  # as RouteLLM: first turns under 16 characters say too little
        source = str(battles)
        typer.echo(f"{loaded.height - frame.height} battles with a first turn under 16 characters dropped")
    prompts = distinct_prompts(frame)
    typer.echo(f"{frame.height} battles, {len(prompts)} distinct prompts from {source}")
    embeddings = cache.embed(prompts) if results else embed_prompts(prompts, model, progress=True)
    data = RankingData.from_battles(
        frame,
        embeddings,
        num_tiers=num_tiers,
        embedder={"name": embedder, "config": section},
        source=source,
    )
    data.strong_model = data.resolve_model(strong_model or ROUTELLM_STRONG, "strong")
    data.weak_model = data.resolve_model(weak_model or ROUTELLM_WEAK, "weak")
    if data.tiers[data.strong_model] == data.tiers[data.weak_model]:
        raise ConfigError(
            f"strong model '{data.strong_model}' and weak model '{data.weak_model}' fall in the same tier; "
            "raise --num-tiers or pick models further apart"
        )
    data.save(out)
    from routellm_train.results import write_training_prompts

    write_training_prompts(out, prompts)
    if extra:
        (out / "training_sources.json").write_text(json.dumps(extra, indent=1) + "\n", encoding="utf-8")
    n_tiers = len(set(data.tiers.values()))
    typer.echo(
        f"wrote {out}: {len(data.ratings)} models in {n_tiers} tiers; strong {data.strong_model} "
        f"(tier {data.tiers[data.strong_model]}), weak {data.weak_model} (tier {data.tiers[data.weak_model]})"
    )
