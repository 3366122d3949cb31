"""``routellm serve``: run the OpenAI-compatible routing server with uvicorn."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from routellm.errors import ConfigError

#: Click settings for the command: words after ``--routers NAME`` are more router names (RouteLLM's
#: ``--routers mf random``), since typer options take one value each.
CONTEXT_SETTINGS = {"allow_extra_args": True}


def serve_command(
    ctx: typer.Context,
    routers: Annotated[
        list[str], typer.Option("--routers", "-r", help="Routers to load, e.g. --routers mf random.")
    ],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config (routers:, models:, server: sections).")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default: config server.host, else 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: config server.port, else 6060).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes, each loading the routers (default 1).")
    ] = None,
    strong_model: Annotated[
        str | None, typer.Option(help="Strong model name (default gpt-4-1106-preview).")
    ] = None,
    weak_model: Annotated[
        str | None, typer.Option(help="Weak model name (default mixtral-8x7b-instruct-v0.1).")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="Strong model's upstream base URL (the weak one's too, unless --alt-base-url)."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(help="API key for --base-url (default $OPENAI_API_KEY). Not with --workers > 1: use api_key_env."),
    ] = None,
    alt_base_url: Annotated[str | None, typer.Option(help="Weak model's upstream base URL.")] = None,
    alt_api_key: Annotated[str | None, typer.Option(help="API key for --alt-base-url.")] = None,
    fallback: Annotated[
        bool | None,
        typer.Option("--fallback/--no-fallback", help="Try the other model when the routed one fails."),
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request (uvicorn access log).")] = False,
) -> None:
    """Serve an OpenAI-compatible API that routes each request to the strong or the weak model.

    Call it with model "router-<router>-<threshold>", e.g. "router-mf-0.11593".
    """
    from routellm.extras import require

    require("uvicorn", "litestar", install="routellm-core[serve]", purpose="routellm serve")
    import uvicorn

    from routellm.server.app import OPTIONS_ENV, ServeOptions, load_app
    from routellm.server.settings import Overrides

    # Command-line routers may be given as "--routers mf random" or "--routers mf --routers random".
    names = [name for value in [*routers, *ctx.args] for name in value.split() if name]
    if not names:
        raise ConfigError("give at least one router with --routers, e.g. --routers random")
    overrides = Overrides(
        strong_model=strong_model,
        weak_model=weak_model,
        base_url=base_url,
        api_key=api_key,
        alt_base_url=alt_base_url,
        alt_api_key=alt_api_key,
        host=host,
        port=port,
        workers=workers,
        fallback=fallback,
    )
    import msgspec

    options = ServeOptions(
        routers=names, config=str(config) if config else None, overrides=msgspec.to_builtins(overrides)
    )
    if api_key or alt_api_key:
        from routellm.config import load_config
        from routellm.server.settings import resolve_settings

        cfg = load_config(options.config)
        resolved = resolve_settings(cfg.section("models"), cfg.section("server"), overrides, where=cfg.where)
        if resolved.server.workers > 1:
            raise ConfigError(
                "--api-key/--alt-api-key with --workers > 1 would put the key in every worker's environment; "
                "export it and name the variable in the config instead (models.strong.api_key_env: OPENAI_API_KEY)"
            )
    serve_logging()
    # Build once here: config, key and router errors surface before uvicorn starts.
    app = load_app(options)
    server = app.state.routellm.settings.server
    from routellm.server.protocol import PROTOCOL

    run = {
        "host": server.host,
        "port": server.port,
        "log_level": "info",
        "access_log": access_log,
        "http": PROTOCOL,
    }
    typer.echo(
        f"routellm: serving routers {', '.join(names)} on http://{server.host}:{server.port}/v1 "
        f"(model 'router-{names[0]}-0.5' etc.)",
        err=True,
    )
    if server.workers == 1:
        uvicorn.run(app, **run)
        return
    app.state.routellm.engine.close()
    with _multiprocess_metrics():
        os.environ[OPTIONS_ENV] = json.dumps(msgspec.to_builtins(options))
        uvicorn.run("routellm.server.app:app_from_env", factory=True, workers=server.workers, **run)


@contextmanager
def _multiprocess_metrics() -> Iterator[None]:
    """A fresh ``PROMETHEUS_MULTIPROC_DIR`` for the workers' metrics, removed at exit; one the user set is
    used as it is (empty it between runs)."""
    from routellm.server.metrics import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        yield
        return
    path = tempfile.mkdtemp(prefix="routellm-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def serve_logging() -> None:
    """Start-up notes (upstreams, router warm-up times) at INFO, the rest at WARNING, one line each."""
    import logging

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    server_log = logging.getLogger("routellm.server")
    if server_log.getEffectiveLevel() > logging.INFO:
        server_log.setLevel(logging.INFO)
