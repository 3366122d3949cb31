"""The N-model part of ``routellm eval``: run for benchmarks that record per-prompt costs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from routellm.benchmark import BenchmarkData


def multi_report(
    data: BenchmarkData,
    cfg: Any,
    routers: list[str],
    models: list[str],
    output: Path,
    *,
    charts: bool = True,
    quiet: bool = False,
    batch_size: int = 64,
) -> None:
    """Sweep each router's knob among ``models`` (default: all with a cost); print the table, write the files."""
    from routellm.errors import ConfigError
    from routellm.evaluation.multi import evaluate_multi
    from routellm.evaluation.multi_report import summary, write_outputs

    try:
        result = evaluate_multi(
            data, {name: cfg.router_section(name) for name in routers}, models=models or None, batch_size=batch_size
        )
    except ConfigError as exc:
        raise ConfigError(f"{cfg.where}: {exc}") from None
    written = write_outputs(result, output, charts=charts)
    if not quiet:
        typer.echo(summary(result))
        typer.echo(f"wrote {', '.join(str(p) for p in written)}\n")


def calibrate_multi_command(
    routers: list[str],
    cfg: Any,
    dataset: str,
    output: Path | None,
    spend_shares: list[float],
    budgets: list[float],
    completion_tokens: float,
    batch_size: int,
) -> None:
    """``routellm calibrate`` for a ``models:`` list: knob per router for each spend target."""
    from routellm.calibrate import load_prompts
    from routellm.errors import ConfigError
    from routellm.multi_model import ladder_from_config
    from routellm.multi_model_calibration import calibrate_multi

    if not spend_shares and not budgets:
        raise ConfigError("with a models: list, give a target: --spend-share 0.4 and/or --usd-per-1k 2.5")
    for share in spend_shares:
        if not 0.0 <= share <= 1.0:
            raise ConfigError(f"--spend-share must be a fraction between 0 and 1 (0.4 for 40%), got {share}")
    for budget in budgets:
        if not budget >= 0.0:
            raise ConfigError(f"--usd-per-1k must be 0 or more, got {budget}")
    ladder = ladder_from_config(cfg.section("models"), where=cfg.where)
    prompts = sorted(set(load_prompts(dataset)))
    entries, path = calibrate_multi(
        routers,
        ladder=ladder,
        prompts=prompts,
        dataset=str(dataset),
        config=cfg,
        output=output,
        spend_shares=spend_shares,
        budgets=budgets,
        completion_tokens=completion_tokens,
        batch_size=batch_size,
    )
    typer.echo(f"models, cheapest first: {', '.join(ladder.names)}")
    for name, entry in entries.items():
        typer.echo(f"{name}: {entry.num_prompts} distinct prompts, {completion_tokens:g} completion tokens assumed")
        for key, knob in entry.requested.items():
            kind = f"{float(key[1:]):g}% of always-{ladder.names[-1]} spend" if key[0] == "p" else f"${key[1:]} per 1,000 requests"
            typer.echo(f'  {kind}: knob {knob:.5f}  model="router-{name}-{knob:.5f}" or "router-{name}-{key}"')
    typer.echo(f"saved calibration to {path}")
