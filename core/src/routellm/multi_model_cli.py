"""``routellm route`` for a config whose ``models:`` is a list of N priced models."""

from __future__ import annotations

import json
import math
from typing import Any

import typer


def route_multi(prompt: str, router: str, knob: float, cfg: Any, *, as_json: bool = False) -> None:
    """Print every model's score (cheapest first), predicted quality, relative price and utility, and the choice."""
    from routellm.multi_model import decide, ladder_from_config, model_scores, utilities

    ladder = ladder_from_config(cfg.section("models"), where=cfg.where)
    instance = cfg.create_router(router)
    try:
        scores = model_scores(instance, [prompt], ladder.names)[0]
    finally:
        instance.close()
    chosen = decide(scores, knob, ladder)
    utility = utilities(scores[None, :], ladder.relative_costs, knob)[0]
    if as_json:
        payload = {
            "router": router,
            "knob": knob,
            "model": chosen.model,
            "fallbacks": list(chosen.fallbacks),
            "scores": dict(zip(ladder.names, map(float, scores), strict=True)),
        }
        typer.echo(json.dumps(payload))
        return
    for name, score, cost, value in zip(ladder.names, scores, ladder.relative_costs, utility, strict=True):
        quality = 0.5 * (1 + math.tanh(0.5 * score))
        typer.echo(f"{name:32s} score {score:+.4f}  quality {quality:.4f}  relative price {cost:.4f}  utility {value:+.4f}")
    typer.echo(f"routed to: {chosen.model} (knob {knob}; fallback order: {', '.join(chosen.fallbacks)})")
