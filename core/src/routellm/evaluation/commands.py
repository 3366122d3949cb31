"""The ``routellm eval`` and ``routellm calibrate`` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from routellm.errors import ConfigError

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config: router sections (RouteLLM's format) or routers:/benchmarks:/calibration:."),
]
RoutersOption = Annotated[
    list[str],
    typer.Option("--routers", "-r", help="Router names; repeat the option, separate with commas, or list them after it."),
]
MoreRouters = Annotated[
    list[str] | None, typer.Argument(help="More router names, so `--routers random mf` works.", show_default=False)
]
OverwriteOption = Annotated[
    list[str] | None,
    typer.Option("--overwrite-cache", help="Routers (comma-separated or repeated) to score again instead of using cached win rates."),
]


#: Routers every evaluation shows beside the ones asked for (when installed), unless --no-baselines.
BASELINES = ("random", "length")


def _names(*groups: list[str] | None) -> list[str]:
    names: list[str] = []
    for group in groups:
        for item in group or []:
            for part in item.split(","):
                if part.strip() and part.strip() not in names:
                    names.append(part.strip())
    return names


def eval_command(
    routers: RoutersOption,
    benchmark: Annotated[
        list[str], typer.Option("--benchmark", "-b", help="Benchmark name(s), e.g. mmlu, gsm8k, mt_bench.")
    ],
    more_routers: MoreRouters = None,
    config: ConfigOption = None,
    num_results: Annotated[int, typer.Option(min=1, help="Quantile bins of the threshold sweep (points = bins + 1).")] = 10,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for results, table and charts.")] = Path(
        "routellm-eval"
    ),
    fmt: Annotated[str, typer.Option("--format", help="Curves and metrics as json or csv.")] = "json",
    overwrite_cache: OverwriteOption = None,
    random_runs: Annotated[int, typer.Option(min=1, help="Seeded runs averaged for stochastic routers such as random.")] = 20,
    data_dir: Annotated[
        Path | None, typer.Option(help="Local data folder with benchmarks/ (default $ROUTELLM_DATA_DIR, else download).")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Prompts per batch_calculate_win_rate call.")] = 64,
    charts: Annotated[bool, typer.Option("--charts/--no-charts", help="Write the HTML and PNG chart.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON instead of the table.")] = False,
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--models",
            help="For benchmarks that record each model's cost (routerbench): the models to route among "
            "(comma-separated or repeated; default all). Adds the quality-vs-cost report.",
        ),
    ] = None,
    baselines: Annotated[
        bool, typer.Option("--baselines/--no-baselines", help="Also evaluate the random and length baselines (when installed).")
    ] = True,
    bootstrap: Annotated[
        int, typer.Option(min=0, help="Resamples of the prompts for 95% intervals of APGR and CPT (0: none).")
    ] = 1000,
    bootstrap_seed: Annotated[int, typer.Option(help="Seed of the bootstrap resamples.")] = 0,
) -> None:
    """Evaluate routers on benchmarks: quality vs % strong calls, CPT(20/50/80%), AUC, APGR, with 95% intervals;
    and, where the benchmark records costs, quality vs cost among N models (AIQ, single-model frontier, oracle)."""
    from routellm.extras import require

    require("polars", *(("altair", "vl_convert") if charts else ()), install="routellm-core[eval]", purpose="routellm eval")
    from routellm.config import load_config
    from routellm.evaluation.evaluate import evaluate
    from routellm.evaluation.report import summary, to_jsonable, write_outputs
    from routellm.registry import get_registry

    names = _names(routers, more_routers)
    if not names:
        raise ConfigError("name at least one router with --routers")
    if fmt not in ("json", "csv"):
        raise ConfigError(f"--format must be json or csv, got '{fmt}'")
    overwrite = _names(overwrite_cache)
    cfg = load_config(config)
    registry = get_registry()
    for name in names:
        registry.router(name)  # fail fast on an unknown name
    if baselines:
        names += [b for b in BASELINES if b in registry.routers and b not in names]
    sections = cfg.section("benchmarks") or {}
    results = []
    for bench in _names(benchmark):
        if bench not in registry.benchmarks and bench.replace("-", "_") in registry.benchmarks:
            bench = bench.replace("-", "_")  # RouteLLM spelled it mt-bench
        spec = registry.benchmark(bench)
        section = dict(sections.get(bench) or {})
        if data_dir is not None and "data_dir" in getattr(spec.load().Config, "__struct_fields__", ()):
            section["data_dir"] = str(data_dir)
        try:
            data = spec.load().from_config(section, name=bench).load()
        except ConfigError as exc:
            raise ConfigError(f"{cfg.where}: {exc}") from None
        result = evaluate(
            data,
            {name: cfg.router_section(name) for name in names},
            num_results=num_results,
            random_runs=random_runs,
            overwrite=overwrite,
            batch_size=batch_size,
            bootstrap=bootstrap,
            bootstrap_seed=bootstrap_seed,
        )
        results.append(result)
        if as_json:  # the table's summary carries them otherwise
            for warning in result.warnings:
                typer.secho(f"warning: {warning}", err=True, fg="yellow")
        written = write_outputs(result, output, fmt=fmt, charts=charts)
        if not as_json:
            typer.echo(summary(result))
            typer.echo(f"wrote {', '.join(str(p) for p in written)}\n")
        if data.cost:
            from routellm.evaluation.multi_commands import multi_report

            multi_report(data, cfg, names, _names(models), output, charts=charts, quiet=as_json, batch_size=batch_size)
    if as_json:
        typer.echo(json.dumps([to_jsonable(r) for r in results], indent=2))


def calibrate_command(
    routers: RoutersOption,
    more_routers: MoreRouters = None,
    strong_model_pct: Annotated[
        list[float], typer.Option("--strong-model-pct", "-p", help="Share(s) of calls for the strong model, e.g. 0.2.")
    ] = [0.2],  # noqa: B006 - typer reads the default
    dataset: Annotated[
        str, typer.Option(help="Battles: a Hugging Face dataset id or a local parquet/jsonl/csv file in the arena schema.")
    ] = "lmsys/lmsys-arena-human-preference-55k",
    config: ConfigOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Calibration file (default: the config's calibration.file).")
    ] = None,
    overwrite_cache: OverwriteOption = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Prompts per batch_calculate_win_rate call.")] = 64,
    spend_share: Annotated[
        list[float] | None,
        typer.Option(help="With a models: list: share(s) of the spend of always calling the most expensive model, e.g. 0.4."),
    ] = None,
    usd_per_1k: Annotated[
        list[float] | None,
        typer.Option("--usd-per-1k", help="With a models: list: average USD per 1,000 requests, e.g. 2.5."),
    ] = None,
    completion_tokens: Annotated[
        float, typer.Option(min=0, help="With a models: list: output tokens assumed per request when estimating cost.")
    ] = 256.0,
) -> None:
    """Score a data set's prompts, print the threshold per router for each share of strong calls, save them.

    With a ``models:`` list of N priced models in the config, calibrate the routing knob instead: the
    knob per router for each ``--spend-share`` / ``--usd-per-1k`` target (names ``router-<r>-p<pct>``
    and ``router-<r>-b<usd>`` then use it)."""
    from routellm.extras import require

    require("polars", install="routellm-core[eval]", purpose="routellm calibrate")
    from routellm.calibrate import calibrate
    from routellm.config import load_config

    names = _names(routers, more_routers)
    if not names:
        raise ConfigError("name at least one router with --routers")
    cfg = load_config(config)
    if isinstance(cfg.section("models"), list):
        from routellm.evaluation.multi_commands import calibrate_multi_command

        calibrate_multi_command(
            names, cfg, dataset, output, spend_share or [], usd_per_1k or [], completion_tokens, batch_size
        )
        return
    for pct in strong_model_pct:
        if not 0.0 <= pct <= 1.0:
            raise ConfigError(f"--strong-model-pct must be a fraction between 0 and 1 (0.2 for 20%), got {pct}")
    runs, path = calibrate(
        names, strong_model_pct, dataset=dataset, config=cfg, output=output, overwrite=_names(overwrite_cache),
        batch_size=batch_size,
    )
    for run in runs:
        source = "cached win rates" if run.cached else f"{run.prompts_per_second:.1f} prompts/s"
        typer.echo(f"{run.router}: {run.num_prompts} distinct prompts of {run.num_battles} battles ({source})")
        for pct, threshold in run.thresholds.items():
            percent = float(pct) * 100
            typer.echo(
                f'  {percent:g}% strong model calls: threshold {threshold:.5f}  '
                f'model="router-{run.router}-{threshold:.5f}" or "router-{run.router}-p{percent:g}"'
            )
    typer.echo(f"saved calibration to {path}")
