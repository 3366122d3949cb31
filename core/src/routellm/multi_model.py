"""Routing among N models: the price ladder, per-model scores, and the one-knob rule.

A ``models:`` *list* in the config (instead of the ``strong``/``weak`` mapping) names N upstreams,
each with its price in USD per 1M input and output tokens. They form a **ladder**, cheapest first
(ordered by input + output price; ties keep the listed order).

For a prompt a router gives one score per model (:meth:`routellm.router.Router.batch_model_scores`,
logit scale: ``sigmoid(s_j - s_m)`` is the predicted probability that model ``j`` beats model ``m``).
The **knob** ``x`` in ``router-<r>-<x>`` (0..1) then picks:

    the cheapest model ``m`` such that no more expensive model ``j`` is predicted to beat it with
    probability ``x`` or more, i.e. ``max_{j pricier than m} sigmoid(s_j - s_m) < x``.

The most expensive model always qualifies. ``x = 1`` sends almost everything to the cheapest model,
``x = 0`` everything to the most expensive, ``x = 0.5`` to the cheapest model that no pricier model
is predicted to beat. With two models this is RouteLLM's rule exactly: the weak model when the strong
model's win rate is below the threshold, the strong one at or above it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from routellm.errors import ConfigError

if TYPE_CHECKING:
    from routellm.router import Router
    from routellm.server.settings import Overrides, Price, ServeSettings, Upstream

#: Win rates are clipped this far from 0 and 1 before taking the logit (the ladder fallback).
_EPS = 1e-9


class ModelLadder(msgspec.Struct, frozen=True):
    """The N models a request may go to, cheapest first, with their prices (USD per 1M tokens)."""

    names: tuple[str, ...]
    input_prices: tuple[float, ...]
    output_prices: tuple[float, ...]

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> ModelLadder | None:
        """The ladder of a ``models:`` list, ``None`` for a strong/weak pair."""
        if not settings.ladder:
            return None
        return cls.from_upstreams(settings.ladder)

    @classmethod
    def from_upstreams(cls, upstreams: Sequence[Upstream]) -> ModelLadder:
        return cls(
            names=tuple(u.name for u in upstreams),
            input_prices=tuple(u.price.input if u.price else 0.0 for u in upstreams),
            output_prices=tuple(u.price.output if u.price else 0.0 for u in upstreams),
        )

    @property
    def tiers(self) -> tuple[str, ...]:
        """Models from the most expensive to the cheapest (the order of ``ModelPair.tiers``)."""
        return tuple(reversed(self.names))

    def __len__(self) -> int:
        return len(self.names)

    def request_costs(self, prompt_tokens: np.ndarray, completion_tokens: float | np.ndarray) -> np.ndarray:
        """USD per request for each model: shape ``(len(prompt_tokens), N)``."""
        p = np.asarray(prompt_tokens, dtype=np.float64)[:, None]
        c = np.broadcast_to(np.asarray(completion_tokens, dtype=np.float64), p.shape[:1])[:, None]
        return (p * np.asarray(self.input_prices) + c * np.asarray(self.output_prices)) / 1e6


def ladder_order(prices: Sequence[Price]) -> list[int]:
    """Indices of ``prices`` cheapest first (input + output price; ties keep their order)."""
    return sorted(range(len(prices)), key=lambda i: prices[i].input + prices[i].output)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


def ladder_scores(win_rates: np.ndarray, num_models: int) -> np.ndarray:
    """The fallback for two-model routers: model ``k`` (cheapest first) scores ``logit(w) * k / (N - 1)``."""
    if num_models < 2:
        raise ValueError(f"routing needs at least two models, got {num_models}")
    steps = np.arange(num_models, dtype=np.float64) / (num_models - 1)
    return logit(win_rates)[:, None] * steps[None, :]


def losses(scores: np.ndarray) -> np.ndarray:
    """Per prompt and model (cheapest first), the largest predicted probability that a pricier model
    beats it (0 for the most expensive model)."""
    scores = np.asarray(scores, dtype=np.float64)
    # best score among strictly pricier models: reversed running max, shifted by one
    pricier = np.maximum.accumulate(scores[:, ::-1], axis=1)[:, ::-1]
    pricier = np.concatenate([pricier[:, 1:], np.full((len(scores), 1), -np.inf)], axis=1)
    return 0.5 * (1.0 + np.tanh(0.5 * (pricier - scores)))


def choose_indices(scores: np.ndarray, knob: float) -> np.ndarray:
    """The ladder index each prompt goes to at ``knob`` (see the module docstring)."""
    ok = losses(scores) < knob
    ok[:, -1] = True
    return np.argmax(ok, axis=1)


def quality_order(scores_row: np.ndarray) -> list[int]:
    """Ladder indices from the best predicted to the worst (ties: the pricier first)."""
    row = np.asarray(scores_row, dtype=np.float64)
    return sorted(range(len(row)), key=lambda i: (-row[i], -i))


def model_scores(router: Router, prompts: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """``router``'s scores for ``names`` (cheapest first), checked to be ``(len(prompts), len(names))``."""
    scores = np.asarray(router.batch_model_scores(list(prompts), list(names)), dtype=np.float64)
    if scores.shape != (len(prompts), len(names)):
        raise ValueError(
            f"{type(router).__name__}.batch_model_scores returned shape {scores.shape}, "
            f"expected {(len(prompts), len(names))}"
        )
    return scores


class MultiDecision(msgspec.Struct, frozen=True):
    """Where one prompt goes among N models, and where it falls back to."""

    model: str
    #: Largest predicted probability that a pricier model beats the chosen one (the knob compares it).
    loss: float
    #: The other models, best predicted first: the order fallback tries them in.
    fallbacks: tuple[str, ...]


def decide(scores_row: np.ndarray, knob: float, ladder: ModelLadder) -> MultiDecision:
    """Route one prompt given its scores (cheapest first)."""
    row = np.asarray(scores_row, dtype=np.float64)[None, :]
    index = int(choose_indices(row, knob)[0])
    loss = float(losses(row)[0, index])
    order = [ladder.names[i] for i in quality_order(row[0]) if i != index]
    return MultiDecision(ladder.names[index], loss, tuple(order))


def decide_row(row: Sequence[float], knob: float, ladder: ModelLadder) -> MultiDecision:
    """:func:`decide` in plain Python for one prompt (the server's hot path; N is small)."""
    n = len(row)
    tanh = math.tanh
    index, loss = n - 1, 0.0
    best_after = row[n - 1]
    losses = [0.0] * n
    for i in range(n - 2, -1, -1):  # largest score among pricier models, from the top down
        losses[i] = 0.5 + 0.5 * tanh(0.5 * (best_after - row[i]))
        if row[i] > best_after:
            best_after = row[i]
    for i in range(n - 1):
        if losses[i] < knob:
            index, loss = i, losses[i]
            break
    names = ladder.names
    # best predicted first; candidates listed priciest first so that ties (stable sort) keep the pricier one
    order = sorted(range(n - 1, -1, -1), key=row.__getitem__, reverse=True)
    return MultiDecision(names[index], loss, tuple([names[i] for i in order if i != index]))


def uses_ladder_fallback(router: Router) -> bool:
    """Whether ``router`` scores N models through the base class's ladder fallback."""
    from routellm.router import Router as Base

    return type(router).batch_model_scores is Base.batch_model_scores


def score_one(router: Router, prompt: str, names: Sequence[str], fallback: bool | None = None) -> list[float]:
    """One prompt's scores (cheapest first); routers without their own ``batch_model_scores`` take the
    ladder fallback on :meth:`~routellm.router.Router.calculate_strong_win_rate`, without numpy.
    ``fallback``: :func:`uses_ladder_fallback` precomputed by the caller."""
    if fallback is None:
        fallback = uses_ladder_fallback(router)
    if fallback:
        w = min(max(float(router.calculate_strong_win_rate(prompt)), _EPS), 1.0 - _EPS)
        step = (math.log(w) - math.log1p(-w)) / (len(names) - 1)
        return [step * k for k in range(len(names))]
    return [float(v) for v in model_scores(router, [prompt], names)[0]]


def neighbours(ladder: ModelLadder, model: str) -> tuple[str, ...]:
    """Fallback order for a direct call to ``model``: pricier models upward, then cheaper ones downward."""
    i = ladder.names.index(model)
    return ladder.names[i + 1 :] + tuple(reversed(ladder.names[:i]))


# --- config: the ``models:`` list ------------------------------------------------------------


def resolve_model_list(models: list[Any], overrides: Overrides, *, where: str) -> tuple[Upstream, ...]:
    """Validate a ``models:`` list into upstreams, cheapest first; one clear error per mistake."""
    import os

    from routellm.server.settings import (
        DEFAULT_API_KEY_ENV,
        DEFAULT_BASE_URL,
        EndpointSection,
        Secret,
        Upstream,
        _key,
    )
    from routellm.structs import convert_section

    if overrides.strong_model or overrides.weak_model or overrides.alt_base_url or overrides.alt_api_key:
        raise ConfigError(
            f"{where}: --strong-model/--weak-model/--alt-base-url/--alt-api-key apply to a strong/weak pair; "
            "with a models: list, set each model's name, base_url and key in the list"
        )
    if len(models) < 2:
        raise ConfigError(f"{where}: models: a list needs at least two models, got {len(models)}")
    upstreams: list[Upstream] = []
    seen: set[str] = set()
    default_key = Secret(os.environ[DEFAULT_API_KEY_ENV]) if os.environ.get(DEFAULT_API_KEY_ENV) else None
    for i, raw in enumerate(models):
        label = f"{where}: models[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{label} must be a mapping with name, base_url, api_key/api_key_env, model and price")
        section = convert_section(raw, EndpointSection, where=label)
        if not section.name:
            raise ConfigError(f"{label}: missing 'name' (the model name clients and routers use)")
        label = f"{where}: models[{i}] ('{section.name}')"
        if section.name in seen:
            raise ConfigError(f"{label}: the name '{section.name}' is listed twice; each model needs its own name")
        seen.add(section.name)
        if section.price is None:
            raise ConfigError(
                f"{label}: missing 'price' (USD per 1M tokens), e.g. price: {{input: 10.0, output: 30.0}}"
            )
        for kind in ("input", "output"):
            value = getattr(section.price, kind)
            if not value >= 0.0 or value == float("inf"):
                raise ConfigError(f"{label}: price.{kind} must be a finite number of USD, 0 or more, got {value}")
        base = section.base_url or overrides.base_url or DEFAULT_BASE_URL
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"{label}: base_url must start with http:// or https://, got '{base}'")
        key = _key(section, None, label) or (Secret(overrides.api_key) if overrides.api_key else default_key)
        upstreams.append(Upstream(section.name, base, section.model or section.name, key, section.price))
    order = ladder_order([u.price for u in upstreams])
    return tuple(upstreams[i] for i in order)
