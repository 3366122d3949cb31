"""The ``routellm train bert`` command (import-light: torch loads when it runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from routellm_train.finetune import (
    BatchSizeOption,
    BenchmarkOption,
    DataDirOption,
    DeviceOption,
    EpochsOption,
    EvalEveryOption,
    FitOptions,
    LearningRateOption,
    NearDuplicateOption,
    ProgressOption,
    SameModelOption,
    StrongModelOption,
    WeakModelOption,
)


def train_bert_command(
    base: Annotated[str, typer.Option("--base", help="Encoder to fine-tune: hub id or local folder, e.g. bert-base-uncased.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the checkpoint (config.json, model.safetensors, README.md).")],
    battles: Annotated[
        str | None, typer.Option("--battles", help="Battles in the arena schema: parquet/jsonl/csv file or dataset id.")
    ] = None,
    results: Annotated[
        list[str] | None,
        typer.Option(
            "--results",
            help="Per-prompt results of several models instead of battles (named source, file or dataset id; "
            "SOURCE:WEIGHT; repeatable); decontaminated, then every model pair on a prompt is a battle.",
        ),
    ] = None,
    data_dir: DataDirOption = None,
    benchmark: BenchmarkOption = None,
    same_model: SameModelOption = None,
    near_duplicate: NearDuplicateOption = 0.95,
    embedder_config: Annotated[
        str | None,
        typer.Option(help='With --results: options of the huggingface embedder for the near-duplicate test, as JSON, e.g. \'{"backend": "torch"}\'.'),
    ] = None,
    strong_model: StrongModelOption = None,
    weak_model: WeakModelOption = None,
    epochs: EpochsOption = 8,
    batch_size: BatchSizeOption = 16,
    learning_rate: LearningRateOption = 5e-5,
    max_length: Annotated[int, typer.Option(min=8, help="Tokens kept per prompt.")] = 256,
    val_fraction: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of prompts held out.")] = 0.1,
    patience: Annotated[int, typer.Option(min=0, help="Validations without improvement before stopping (0: never).")] = 2,
    eval_every: EvalEveryOption = None,
    max_prompts: Annotated[int | None, typer.Option(min=2, help="Use at most this many distinct prompts.")] = None,
    freeze_layers: Annotated[
        int, typer.Option(min=0, help="Freeze the embeddings and the first N layers (faster on a CPU).")
    ] = 0,
    device: DeviceOption = "auto",
    seed: int = 0,
    progress: ProgressOption = True,
) -> None:
    """Fine-tune an encoder on battles into a bert router (labels: strong wins / tie / weak wins)."""
    from routellm.errors import ConfigError
    from routellm_router_bert.train import BertTrainOptions, train_bert

    if (battles is None) == (not results):
        raise ConfigError("give either --battles or --results (repeatable)")
    source = battles
    tables = report = None
    if results:
        from routellm_train.results import results_battles

        if strong_model is None:
            raise ConfigError("with --results, name the strong model (--strong-model), e.g. gpt-4-1106-preview")
        synonyms: dict[str, str] = {}
        for pair in same_model or []:
            name, sep, model = pair.partition("=")
            if not (sep and name and model):
                raise ConfigError(f"--same-model expects NAME=MODEL, got '{pair}'")
            synonyms[name] = model
        try:
            embedder_options = json.loads(embedder_config) if embedder_config else {}
        except ValueError as exc:
            raise ConfigError(f"--embedder-config is not valid JSON: {exc}") from None
        if not isinstance(embedder_options, dict):
            raise ConfigError("--embedder-config must be a JSON object of embedder options")
        source, tables, report = results_battles(
            list(results), data_dir=data_dir, benchmarks=benchmark, same_model=synonyms, threshold=near_duplicate or None,
            embedder_options=embedder_options, echo=typer.echo,
        )

    options = BertTrainOptions(
        strong_model=strong_model,
        weak_model=weak_model,
        max_length=max_length,
        val_fraction=val_fraction,
        max_prompts=max_prompts,
        freeze_layers=freeze_layers,
        device=device,
        fit=FitOptions(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            patience=patience,
            eval_every=eval_every,
            seed=seed,
            progress=progress,
        ),
    )
    assert source is not None  # --battles or --results, checked above
    trained = train_bert(source, base, out, options)
    if tables is not None:
        from routellm_train.results import sources_record, write_training_prompts

        write_training_prompts(out, [p for t in tables for p in t.prompts])
        record = {"results": list(results or []), "same_model": list(same_model or []), "sources": sources_record(tables, report)}
        (Path(out) / "training_sources.json").write_text(json.dumps(record, indent=1) + "\n")
    report = trained
    best = report.fit.best
    shown = " ".join(f"{k}={v:.4f}" for k, v in best.metrics.items())
    typer.echo(
        f"saved {out} ({report.prompts_train} training prompts, {report.fit.steps} steps, "
        f"{report.seconds / 60:.1f} min); best epoch {best.epoch:g}: {shown} (prior val_loss={report.prior_val_loss:.4f})"
    )
