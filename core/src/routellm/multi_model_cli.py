"""``routellm route`` for a config whose ``models:`` is a list of N priced models."""

from __future__ import annotations

import json
from typing import Any

import typer


def route_multi(prompt: str, router: str, knob: float, cfg: Any, *, as_json: bool = False) -> None:
    """Print every model's score (cheapest first), each one's predicted loss to a pricier model, and the choice."""
    import numpy as np

    from routellm.multi_model import ModelLadder, decide, losses, model_scores
    from routellm.server.settings import resolve_settings

    settings = resolve_settings(cfg.section("models"), cfg.section("server"), where=cfg.where)
    ladder = ModelLadder.from_settings(settings)
    assert ladder is not None
    instance = cfg.create_router(router)
    try:
        scores = model_scores(instance, [prompt], ladder.names)[0]
    finally:
        instance.close()
    chosen = decide(scores, knob, ladder)
    loss = losses(np.asarray(scores)[None, :])[0]
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
    for name, score, value in zip(ladder.names, scores, loss, strict=True):
        typer.echo(f"{name:32s} score {score:+.4f}  P(a pricier model beats it) {value:.4f}")
    typer.echo(f"routed to: {chosen.model} (knob {knob}; fallback order: {', '.join(chosen.fallbacks)})")
