"""``routellm train mf``: registered on the ``train`` group through the ``routellm_register_commands`` hook."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from routellm.errors import ConfigError
from routellm_train.finetune import BenchmarkOption, DataDirOption, NearDuplicateOption, SameModelOption


def parse_options(pairs: list[str], *, flag: str = "--embedder-option") -> dict[str, Any]:
    """``KEY=VALUE`` pairs (values parsed as YAML scalars) into an options mapping."""
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} expects KEY=VALUE, got {pair!r}")
        options[key.strip()] = yaml.safe_load(value) if value else ""
    return options


def register(train: typer.Typer) -> None:
    @train.command("mf")
    def train_mf_command(
        out: Annotated[Path, typer.Option(help="Folder to write config.json, model.safetensors and README.md.")],
        battles: Annotated[
            str | None,
            typer.Option(help="Hugging Face dataset id or local parquet/jsonl/csv in the arena battles schema."),
        ] = None,
        results: Annotated[
            list[str] | None,
            typer.Option(
                "--results",
                help="Per-prompt results of several models: a named source (mmlu_pro, routerarena, alpaca_eval_mixtral, "
                "gsm8k_train_7b, routerbench), a local file or a dataset id; SPEC:WEIGHT weights it; repeatable. "
                "Trains the multi-model mf.",
            ),
        ] = None,
        data_dir: DataDirOption = None,
        same_model: SameModelOption = None,
        benchmark: BenchmarkOption = None,
        decontaminate: Annotated[
            bool, typer.Option(help="With --results: drop prompts matching a benchmark prompt before training.")
        ] = True,
        pairwise_weight: Annotated[float, typer.Option(help="With --results: weight of the pairwise loss.")] = 1.0,
        pointwise_weight: Annotated[float, typer.Option(help="With --results: weight of the pointwise loss.")] = 1.0,
        near_duplicate: NearDuplicateOption = 0.95,
        embedder: Annotated[str, typer.Option(help="Embedder name (see `routellm plugins`).")] = "huggingface",
        embedder_option: Annotated[
            list[str] | None,
            typer.Option("--embedder-option", "-E", help="Embedder option KEY=VALUE, repeatable (e.g. model=PATH)."),
        ] = None,
        dim: Annotated[int | None, typer.Option(help="Model embedding size [battles: 128, results: 64].")] = None,
        epochs: Annotated[int | None, typer.Option(help="Most epochs to train [battles: 100, results: 300].")] = None,
        batch_size: Annotated[int, typer.Option(help="Battles per step.")] = 64,
        lr: Annotated[float | None, typer.Option(help="Adam learning rate [battles: 3e-4, results: 3e-3].")] = None,
        weight_decay: Annotated[float | None, typer.Option(help="Weight decay [battles: 1e-5, results: 1e-4].")] = None,
        noise: Annotated[float, typer.Option(help="Std of Gaussian noise on prompt vectors in training.")] = 0.1,
        val_fraction: Annotated[float, typer.Option(help="Share of prompts held out for validation.")] = 0.1,
        patience: Annotated[int, typer.Option(help="Stop after this many epochs without a better validation loss.")] = 5,
        seed: Annotated[int, typer.Option(help="Random seed (split, init, batches).")] = 42,
        ties: Annotated[
            str, typer.Option(help="soft: ties (and graded preferences) as soft targets; drop: RouteLLM's choice.")
        ] = "soft",
        feature: Annotated[
            list[str] | None,
            typer.Option("--feature", help="Extra prompt feature appended to the embedding (log_chars); repeatable."),
        ] = None,
        length_control: Annotated[
            bool,
            typer.Option(help="Absorb the judge's preference for long answers in a training-only term (needs responses)."),
        ] = False,
        alias: Annotated[
            list[str] | None,
            typer.Option("--alias", help="ALIAS=MODEL: another name for a model of the battles, kept in the checkpoint."),
        ] = None,
    ) -> None:
        """Train the matrix-factorisation router on pairwise battles, or on per-prompt results (--results)."""
        command = "routellm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if (battles is None) == (not results):
            raise ConfigError("give either --battles (pairwise battles) or --results (per-prompt results, repeatable)")
        if results:
            from routellm_router_mf.train_results import ResultsTrainOptions, train_mf_results

            given = {k: v for k, v in {"dim": dim, "epochs": epochs, "lr": lr, "weight_decay": weight_decay}.items() if v is not None}
            options = ResultsTrainOptions(
                **given,
                val_fraction=val_fraction, seed=seed, features=list(feature or []),
                pairwise_weight=pairwise_weight, pointwise_weight=pointwise_weight,
                near_duplicate=near_duplicate or None,
                same_model={k: str(v) for k, v in parse_options(same_model or [], flag="--same-model").items()},
                aliases={k: str(v) for k, v in parse_options(alias or [], flag="--alias").items()},
            )
            train_mf_results(
                results, out, embedder=embedder, embedder_options=parse_options(embedder_option or []),
                options=options, data_dir=data_dir, echo=typer.echo, command=command,
                decontaminate_against=(benchmark or None) if decontaminate else [],
            )
            return
        from routellm_router_mf.train import TrainOptions, train_mf

        base = TrainOptions()
        options = TrainOptions(
            dim=dim or base.dim, epochs=epochs or base.epochs, batch_size=batch_size, lr=lr or base.lr,
            weight_decay=base.weight_decay if weight_decay is None else weight_decay, noise=noise,
            val_fraction=val_fraction, patience=patience, seed=seed, ties=ties, features=list(feature or []), length_control=length_control,
            aliases={k: str(v) for k, v in parse_options(alias or [], flag="--alias").items()},
        )
        assert battles is not None  # --battles or --results, checked above
        train_mf(
            battles, out, embedder=embedder, embedder_options=parse_options(embedder_option or []),
            options=options, echo=typer.echo, command=command,
        )
