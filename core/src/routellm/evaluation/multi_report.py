"""Tables, JSON and the quality-vs-cost chart for N-model evaluation results."""

from __future__ import annotations

from pathlib import Path

import msgspec

from routellm.evaluation.multi import SINGLE_HULL, MultiEvalResult


def _usd_per_1k(cost: float | None) -> str:
    return "—" if cost is None else f"${cost * 1000:.2f}"


def _q(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def markdown_table(result: MultiEvalResult) -> str:
    """Routers, the single-model hull and the oracle, with AIQ and the two cost figures; then every single model."""
    best = next(p for p in result.singles if p.label == result.best_model)
    cheapest = result.singles[0]
    lines = [
        f"**{result.benchmark}** ({result.num_prompts} prompts, {len(result.models)} models; cost in USD per 1,000 queries)",
        "",
        f"| router | AIQ | cost to match {result.best_model} ({best.quality:.3f}) "
        f"| quality at {result.cheapest_model}'s cost ({_usd_per_1k(cheapest.cost)}) |",
        "|---|---|---|---|",
    ]
    for r in result.routers:
        lines.append(f"| {r.name} | {r.aiq:.4f} | {_usd_per_1k(r.cost_to_match_best)} | {_q(r.quality_at_cheapest)} |")
    lines.append(f"| {SINGLE_HULL} | {result.hull_aiq:.4f} | {_usd_per_1k(best.cost)} | {cheapest.quality:.3f} |")
    lines.append(f"| oracle (cheapest correct model) | — | {_usd_per_1k(result.oracle.cost)} | {result.oracle.quality:.3f} |")
    lines += ["", "| model | quality | cost per 1k queries |", "|---|---|---|"]
    for p in sorted(result.singles, key=lambda p: -p.quality):
        lines.append(f"| {p.label} | {p.quality:.3f} | {_usd_per_1k(p.cost)} |")
    return "\n".join(lines)


def summary(result: MultiEvalResult) -> str:
    return markdown_table(result) + ("\n\n" + "\n".join(result.notes) if result.notes else "")


def chart(result: MultiEvalResult):
    """Altair chart: each router's swept curve, the single models, their hull and the oracle (log cost axis)."""
    import altair as alt
    import polars as pl

    rows = [
        {"series": r.name, "cost_per_1k": p.cost * 1000, "quality": p.quality, "knob": p.knob}
        for r in result.routers
        for p in r.points
    ]
    rows += [{"series": SINGLE_HULL, "cost_per_1k": p.cost * 1000, "quality": p.quality, "knob": None} for p in result.hull]
    curves = pl.DataFrame(rows, schema={"series": pl.String, "cost_per_1k": pl.Float64, "quality": pl.Float64, "knob": pl.Float64})
    points = pl.DataFrame(
        {
            "model": [str(p.label) for p in result.singles] + ["oracle"],
            "cost_per_1k": [p.cost * 1000 for p in result.singles] + [result.oracle.cost * 1000],
            "quality": [p.quality for p in result.singles] + [result.oracle.quality],
        }
    )
    x = alt.X("cost_per_1k:Q", title="Average cost (USD per 1,000 queries)", scale=alt.Scale(type="log"))
    y = alt.Y("quality:Q", title="Quality", scale=alt.Scale(zero=False))
    lines = (
        alt.Chart(curves)
        .mark_line()
        .encode(
            x=x,
            y=y,
            color=alt.Color("series:N", title="Router / frontier"),
            strokeDash=alt.condition(alt.datum.series == SINGLE_HULL, alt.value([5, 4]), alt.value([1, 0])),
            tooltip=["series", "knob", "cost_per_1k", "quality"],
        )
    )
    dots = alt.Chart(points).mark_point(filled=True, color="black").encode(x=x, y=y, tooltip=["model", "cost_per_1k", "quality"])
    labels = alt.Chart(points).mark_text(align="left", dx=5, dy=-4, fontSize=9).encode(x=x, y=y, text="model:N")
    return alt.layer(lines, dots, labels).properties(
        title=f"Quality vs cost, routing among {len(result.models)} models ({result.benchmark})", width=620, height=400
    )


def to_jsonable(result: MultiEvalResult) -> dict:
    return msgspec.to_builtins(result)


def write_outputs(result: MultiEvalResult, output: str | Path, *, charts: bool = True) -> list[Path]:
    """Write ``<benchmark>_models.json``, ``.md`` and (with ``charts``) ``.html`` and ``.png`` into ``output``."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{result.benchmark}_models"
    path = out / f"{stem}.json"
    path.write_bytes(msgspec.json.format(msgspec.json.encode(result), indent=2))
    table = out / f"{stem}.md"
    table.write_text(markdown_table(result) + "\n")
    written = [path, table]
    if charts:
        figure = chart(result)
        html, png = out / f"{stem}.html", out / f"{stem}.png"
        figure.save(str(html))
        figure.save(str(png), format="png", scale_factor=2)
        written += [html, png]
    return written
