"""``routellm train mf``: registered on the ``train`` group through the ``routellm_register_commands`` hook."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from routellm.errors import ConfigError


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
        battles: Annotated[
            str,
            typer.Option(help="Hugging Face dataset id or local parquet/jsonl/csv in the arena battles schema."),
        ],
        out: Annotated[Path, typer.Option(help="Folder to write config.json, model.safetensors and README.md.")],
        embedder: Annotated[str, typer.Option(help="Embedder name (see `routellm plugins`).")] = "huggingface",
        embedder_option: Annotated[
            list[str] | None,
            typer.Option("--embedder-option", "-E", help="Embedder option KEY=VALUE, repeatable (e.g. model=PATH)."),
        ] = None,
        dim: Annotated[int, typer.Option(help="Model embedding size.")] = 128,
        epochs: Annotated[int, typer.Option(help="Most epochs to train.")] = 100,
        batch_size: Annotated[int, typer.Option(help="Battles per step.")] = 64,
        lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 3e-4,
        weight_decay: Annotated[float, typer.Option(help="Adam weight decay.")] = 1e-5,
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
        """Train the matrix-factorisation router on pairwise battles."""
        from routellm_router_mf.train import TrainOptions, train_mf

        options = TrainOptions(
            dim=dim, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, noise=noise,
            val_fraction=val_fraction, patience=patience, seed=seed, ties=ties, features=list(feature or []), length_control=length_control,
            aliases={k: str(v) for k, v in parse_options(alias or [], flag="--alias").items()},
        )
        command = "routellm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        train_mf(
            battles, out, embedder=embedder, embedder_options=parse_options(embedder_option or []),
            options=options, echo=typer.echo, command=command,
        )
