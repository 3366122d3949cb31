"""Reports of an evaluation: a markdown table (console and docs), JSON, CSV and an altair chart."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import msgspec

from routellm.evaluation.evaluate import EvalResult, RouterResult

FORMATS = ("json", "csv")


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 100:.2f}%"


def _num(value: float, digits: int = 3) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def _with_interval(row: dict, key: str, fmt) -> str:
    """``value [low, high]`` when the row has an interval for ``key``, else the value alone."""
    text = fmt(row[key])
    low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
    if low is None or high is None:
        return text
    if math.isnan(low) and math.isnan(high):
        return f"{text} [n/a]"
    return f"{text} [{fmt(low)}, {fmt(high)}]"


INTERVAL_KEYS = ("apgr", "cpt20", "cpt50", "cpt80")


def metrics_rows(result: EvalResult, *, optimal: bool = True) -> list[dict]:
    """One flat row per router (and the oracle): the numbers of the table, unformatted.

    Routers evaluated with bootstrap intervals also get ``<metric>_low`` / ``<metric>_high`` for APGR and
    the CPTs (``None`` where there is no interval, e.g. the oracle).
    """
    rows = []
    with_intervals = any(r.intervals is not None for r in result.routers)
    for r in [*result.routers, *([result.optimal] if optimal else [])]:
        row = {
            "benchmark": result.benchmark,
            "router": r.name,
            "runs": r.runs,
            "apgr": r.metrics.apgr,
            "auc": r.metrics.auc,
            "cpt20": r.metrics.cpt20,
            "cpt50": r.metrics.cpt50,
            "cpt80": r.metrics.cpt80,
        }
        if with_intervals:
            for key in INTERVAL_KEYS:
                low, high = getattr(r.intervals, key) if r.intervals is not None else (None, None)
                row[f"{key}_low"], row[f"{key}_high"] = low, high
        rows.append(row)
    return rows


def markdown_table(results: Sequence[EvalResult], *, optimal: bool = True) -> str:
    """A GitHub markdown table of CPT(20/50/80%), AUC and APGR, one row per (benchmark, router);
    with bootstrap intervals, each CPT and APGR is followed by its 95% interval in brackets."""
    lines = [
        "| benchmark | router | CPT(20%) | CPT(50%) | CPT(80%) | AUC | APGR |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for row in metrics_rows(result, optimal=optimal):
            name = row["router"] + (f" (mean of {row['runs']} seeds)" if row["runs"] > 1 else "")
            cpts = " | ".join(_with_interval(row, key, _pct) for key in ("cpt20", "cpt50", "cpt80"))
            lines.append(
                f"| {row['benchmark']} | {name} | {cpts} | {_num(row['auc'])} | {_with_interval(row, 'apgr', _num)} |"
            )
    resamples = {r.intervals.resamples for res in results for r in res.routers if r.intervals is not None}
    if resamples:
        count = "/".join(str(n) for n in sorted(resamples))
        lines.append("")
        lines.append(f"[low, high]: 95% bootstrap interval over {count} resamples of the prompts.")
    return "\n".join(lines)


def summary(result: EvalResult) -> str:
    """The console report: counts, references, then the metrics table."""
    lines = [*result.notes, *(f"WARNING: {w}" for w in result.warnings)]
    lines.append(
        f"{result.benchmark}: {result.num_prompts} prompts, {result.num_results + 1}-point sweep; "
        f"strong {result.strong_model} = {result.strong_quality:.4f}, weak {result.weak_model} = {result.weak_quality:.4f}"
    )
    lines.append("")
    lines.append(markdown_table([result]))
    return "\n".join(lines)


def curves_frame(result: EvalResult):
    """Long polars frame of every curve: benchmark, router, threshold, strong_share, quality, pgr, and the
    quality's 95% bootstrap band at each point (``quality_low``, ``quality_high``; null without one)."""
    import polars as pl

    gap = result.strong_quality - result.weak_quality
    rows = []
    for r in [*result.routers, result.optimal]:
        thresholds = r.curve.thresholds or [None] * len(r.curve.strong_share)
        band = r.intervals if r.intervals is not None and r.intervals.quality_low else None
        lows = band.quality_low if band else [None] * len(r.curve.strong_share)
        highs = band.quality_high if band else [None] * len(r.curve.strong_share)
        points = zip(thresholds, r.curve.strong_share, r.curve.quality, lows, highs, strict=True)
        for threshold, share, quality, low, high in points:
            rows.append(
                {
                    "benchmark": result.benchmark,
                    "router": r.name,
                    "threshold": threshold,
                    "strong_share": share,
                    "quality": quality,
                    "pgr": (quality - result.weak_quality) / gap if gap else None,
                    "quality_low": low,
                    "quality_high": high,
                }
            )
    schema = {
        "benchmark": pl.String, "router": pl.String, "threshold": pl.Float64,
        "strong_share": pl.Float64, "quality": pl.Float64, "pgr": pl.Float64,
        "quality_low": pl.Float64, "quality_high": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def chart(result: EvalResult):
    """An altair chart of quality against % strong calls: each router (with its 95% bootstrap band), the oracle,
    strong and weak lines; beside it, each router's APGR with its interval as an error bar."""
    import altair as alt
    import polars as pl

    frame = curves_frame(result).with_columns((pl.col("strong_share") * 100).alias("strong_calls_pct"))
    # One colour per router in every panel.
    palette = alt.Scale(domain=[r.name for r in result.routers] + [result.optimal.name], scheme="tableau10")
    refs = pl.DataFrame(
        {
            "model": [f"strong: {result.strong_model}", f"weak: {result.weak_model}"],
            "quality": [result.strong_quality, result.weak_quality],
        }
    )
    lines = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("strong_calls_pct:Q", title="Strong model calls (%)", scale=alt.Scale(domain=[0, 100])),
            y=alt.Y("quality:Q", title="Quality", scale=alt.Scale(zero=False)),
            color=alt.Color("router:N", title="Router", scale=palette),
            strokeDash=alt.condition(alt.datum.router == "optimal", alt.value([4, 3]), alt.value([1, 0])),
            tooltip=["router", "threshold", "strong_calls_pct", "quality", "pgr"],
        )
    )
    rules = (
        alt.Chart(refs)
        .mark_rule(strokeDash=[6, 4])
        .encode(y="quality:Q", color=alt.Color("model:N", title="Reference", scale=alt.Scale(range=["#d62728", "#7f7f7f"])))
    )
    layers = [lines, rules]
    banded = frame.filter(pl.col("quality_low").is_not_null())
    if banded.height:
        band = (
            alt.Chart(banded)
            .mark_area(opacity=0.15)
            .encode(
                x="strong_calls_pct:Q",
                y="quality_low:Q",
                y2="quality_high:Q",
                color=alt.Color("router:N", title="Router", scale=palette),
            )
        )
        layers = [alt.layer(band, lines), rules]
    curves = (
        alt.layer(*layers)
        .resolve_scale(color="independent")
        .properties(title=f"Quality vs strong model calls ({result.benchmark})", width=560, height=360)
    )
    rows = [r for r in metrics_rows(result, optimal=False) if r.get("apgr_low") is not None]
    if not rows:
        return curves
    apgr = pl.DataFrame(rows).select("router", "apgr", "apgr_low", "apgr_high")
    base = alt.Chart(apgr).encode(y=alt.Y("router:N", title=None, sort=None))
    bars = alt.layer(
        base.mark_rule().encode(x=alt.X("apgr_low:Q", title="APGR (95% bootstrap interval)", scale=alt.Scale(zero=False)), x2="apgr_high:Q"),
        base.mark_point(filled=True).encode(x="apgr:Q", color=alt.Color("router:N", legend=None, scale=palette), tooltip=["router", "apgr", "apgr_low", "apgr_high"]),
    ).properties(title="APGR", width=220, height=360)
    return alt.hconcat(curves, bars)


def write_outputs(result: EvalResult, output: str | Path, *, fmt: str = "json", charts: bool = True) -> list[Path]:
    """Write ``<benchmark>.json`` (or ``<benchmark>_curves.csv`` + ``<benchmark>_metrics.csv``), ``.md``,
    and the chart as ``.html`` and ``.png`` into ``output``; returns the paths written."""
    import polars as pl

    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}' (use {' or '.join(FORMATS)})")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    stem = result.benchmark
    written = []
    if fmt == "json":
        path = out / f"{stem}.json"
        path.write_bytes(msgspec.json.format(msgspec.json.encode(to_jsonable(result)), indent=2))
        written.append(path)
    else:
        curves = out / f"{stem}_curves.csv"
        curves_frame(result).write_csv(curves)
        metrics = out / f"{stem}_metrics.csv"
        pl.DataFrame(metrics_rows(result)).write_csv(metrics)
        written += [curves, metrics]
    table = out / f"{stem}.md"
    table.write_text(markdown_table([result]) + "\n")
    written.append(table)
    if charts:
        figure = chart(result)
        html = out / f"{stem}.html"
        figure.save(str(html))
        png = out / f"{stem}.png"
        figure.save(str(png), format="png", scale_factor=2)
        written += [html, png]
    return written


def to_jsonable(result: EvalResult) -> dict:
    """The result as plain JSON data; NaN metrics become ``null``."""
    data = msgspec.to_builtins(result)

    def clean(value):
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    cleaned = clean(data)
    assert isinstance(cleaned, dict)
    return cleaned


def from_jsonable(data: dict) -> EvalResult:
    """Read back what :func:`to_jsonable` wrote (``null`` metrics become NaN)."""
    for r in [*data.get("routers", []), data.get("optimal", {})]:
        metrics = r.get("metrics", {})
        for key, value in list(metrics.items()):
            if value is None:
                metrics[key] = math.nan
        intervals = r.get("intervals") or {}
        for key, value in list(intervals.items()):
            if value is None:
                intervals[key] = math.nan
            elif isinstance(value, list):
                intervals[key] = [math.nan if v is None else v for v in value]
    return msgspec.convert(data, EvalResult)


__all__ = ["RouterResult", "chart", "curves_frame", "markdown_table", "summary", "to_jsonable", "write_outputs"]
