"""The ``routellm`` command line."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from routellm.errors import RoutellmError
from routellm.extras import ANY_ARGS, MissingDependencyError
from routellm.server.cli import CONTEXT_SETTINGS, serve_command

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config: router name -> options (RouteLLM's format) or sections."),
]


def _version(value: bool) -> None:
    if value:
        from routellm import __version__

        typer.echo(f"routellm {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    """The CLI app with core commands plus those plugins register."""
    app = typer.Typer(
        name="routellm",
        help="Serve, train, calibrate and evaluate LLM routers.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    train = typer.Typer(help="Train a router on your own preference data.", no_args_is_help=True)

    @app.callback()
    def _root(
        version: Annotated[
            bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
        ] = False,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")] = False,
    ) -> None:
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
        )

    app.command("plugins")(plugins_command)
    app.command("route")(route_command)
    from routellm.evaluation import commands as evaluation

    app.command("eval")(evaluation.eval_command)
    app.command("calibrate")(evaluation.calibrate_command)
    app.command("serve", context_settings=CONTEXT_SETTINGS)(serve_command)

    from routellm.registry import get_registry

    get_registry().register_commands(app, train)
    if train.registered_commands or train.registered_groups:
        app.add_typer(train, name="train")
    else:
        app.command("train", context_settings=ANY_ARGS, add_help_option=False)(no_trainer_command)
    return app

#: What to install for ``routellm train`` when no plugin registers a trainer.
TRAINERS = "routellm-router-mf[train]"


def no_trainer_command(ctx: typer.Context) -> None:
    """Train a router on your own preference data (no trainer is installed)."""
    raise MissingDependencyError(
        f"no trainer is installed: pip install '{TRAINERS}' (or the [train] extra of routellm-router-bert, "
        "routellm-router-causal-llm or routellm-router-sw-ranking)"
    )


def plugins_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List installed routers, benchmarks, embedders and command plugins with the distribution of each,
    then the plugins (or hooks) that failed and were skipped."""
    from routellm.plugins import get_plugin_manager
    from routellm.registry import get_registry

    registry = get_registry()
    pm = get_plugin_manager()
    rows = []
    providers: set[str | None] = set()
    for kind, table in (
        ("router", registry.routers),
        ("benchmark", registry.benchmarks),
        ("embedder", registry.embedders),
    ):
        for spec in table.values():
            providers.add(spec.distribution)
            rows.append(
                {
                    "kind": kind,
                    "name": spec.name,
                    "distribution": spec.distribution,
                    "version": spec.version,
                    "description": spec.description,
                }
            )
    # Plugins that only add commands (or provide nothing that is listed above).
    for impl in pm.hook.routellm_register_commands.get_hookimpls():
        info = pm.info_for(impl.plugin)
        if info.distribution in providers:
            continue
        rows.append(
            {
                "kind": "commands",
                "name": info.entry_point or info.name,
                "distribution": info.distribution,
                "version": info.version,
                "description": _summary(info.distribution),
            }
        )
    failures = [
        {"name": f.name, "distribution": f.distribution, "hook": f.hook, "error": f.error} for f in pm.failures
    ]
    if as_json:
        typer.echo(json.dumps({"plugins": rows, "failed": failures}, indent=2))
        return
    if not rows:
        typer.echo("No plugins installed.")
    widths = [max([len(h)] + [len(str(r[k] or "-")) for r in rows]) for h, k in _COLUMNS]
    typer.echo("  ".join(h.ljust(w) for (h, _), w in zip(_COLUMNS, widths, strict=True)).rstrip())
    for r in rows:
        typer.echo("  ".join(str(r[k] or "-").ljust(w) for (_, k), w in zip(_COLUMNS, widths, strict=True)).rstrip())
    for f in failures:
        where = f" ({f['hook']})" if f["hook"] else ""
        typer.echo(f"failed: plugin {f['name']} ({f['distribution'] or '?'}){where}: {f['error']}", err=True)


def _summary(distribution: str | None) -> str | None:
    """A distribution's one-line summary from its metadata."""
    if not distribution:
        return None
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        return metadata(distribution).get("Summary")  # type: ignore[attr-defined]  # an email.message.Message
    except PackageNotFoundError:
        return None


_COLUMNS = [("KIND", "kind"), ("NAME", "name"), ("DISTRIBUTION", "distribution"), ("VERSION", "version"), ("DESCRIPTION", "description")]


def route_command(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="The user prompt to route.")],
    router: Annotated[str, typer.Option("--router", "-r", help="Router name, e.g. mf or random.")],
    threshold: Annotated[
        float, typer.Option("--threshold", "-t", min=0.0, max=1.0, help="Strong model at or above this win rate.")
    ],
    config: ConfigOption = None,
    strong_model: Annotated[
        str | None, typer.Option(help="Strong model's name (default: the config's models.strong, else RouteLLM's).")
    ] = None,
    weak_model: Annotated[
        str | None, typer.Option(help="Weak model's name (default: the config's models.weak, else RouteLLM's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score one prompt with a router and print the strong win rate and the chosen model."""
    from routellm.config import load_config
    from routellm.routing import ModelPair, choose_model
    from routellm.server.settings import model_pair

    cfg = load_config(config)
    if isinstance(cfg.section("models"), list):
        from routellm.multi_model_cli import route_multi

        route_multi(prompt, router, threshold, cfg, as_json=as_json)
        return
    configured = model_pair(cfg.section("models"), where=cfg.where)
    models = ModelPair(strong=strong_model or configured.strong, weak=weak_model or configured.weak)
    instance = cfg.create_router(router)
    win_rate = float(instance.calculate_strong_win_rate(prompt))
    chosen = choose_model(win_rate, [threshold], models.tiers)
    if as_json:
        typer.echo(json.dumps({"router": router, "threshold": threshold, "win_rate": win_rate, "model": chosen}))
    else:
        tier = "strong" if chosen == models.strong else "weak"
        typer.echo(f"strong win rate: {win_rate:.4f}")
        typer.echo(f"routed to: {chosen} ({tier}; threshold {threshold})")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: user errors print one line and exit 1, never a traceback."""
    from routellm.conflicts import conflict_warning

    warning = conflict_warning()
    if warning:
        typer.echo(warning, err=True)
    try:
        app = build_app()
        app(args=argv, prog_name="routellm", standalone_mode=True)
    except RoutellmError as exc:
        typer.echo(f"Error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
