"""Routing among N models: the price ladder, per-model scores, and the one-knob rule.

A ``models:`` *list* in the config (instead of the ``strong``/``weak`` mapping) names N upstreams,
each with its price in USD per 1M input and output tokens. They form a **ladder**, cheapest first
(ordered by input + output price; ties keep the listed order).

For a prompt a router gives one score per model (:meth:`routellm.router.Router.batch_model_scores`,
logit scale): ``p_m = sigmoid(s_m)`` is model ``m``'s predicted quality (probability of a good
answer) and ``sigmoid(s_j - s_m)`` the predicted probability that ``j`` beats ``m``. The **knob**
``x`` in ``router-<r>-<x>`` (0..1) prices quality:

    choose ``argmax_m  p_m - λ · c_m``  with  ``λ = x / (1 - x)``,

where ``c_m`` is model ``m``'s price relative to the most expensive model (input + output price per
token, so the most expensive model costs 1). ``x = 0`` takes the best predicted model whatever it
costs, ``x = 0.5`` gives up to one unit of predicted quality for the full price of the most expensive
model, ``x = 1`` always takes the cheapest. Ties go to the cheaper model. The rule was chosen over a
pairwise one ("the cheapest model no pricier model beats with probability x") on RouterBench's
*train* split (0.864 vs 0.861 accuracy at 40% of GPT-4's cost; see docs/benchmarks.md).
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

    @property
    def relative_costs(self) -> tuple[float, ...]:
        """Each model's price (input + output per token) relative to the most expensive one's."""
        totals = [i + o for i, o in zip(self.input_prices, self.output_prices, strict=True)]
        top = max(totals)
        return tuple(t / top if top > 0 else 0.0 for t in totals)

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
    """The fallback for two-model routers: model ``k`` of ``N`` (cheapest first) gets predicted quality
    ``w * k / (N - 1)`` (returned as its logit), so the most expensive model's is the strong win rate ``w``."""
    if num_models < 2:
        raise ValueError(f"routing needs at least two models, got {num_models}")
    steps = np.arange(num_models, dtype=np.float64) / (num_models - 1)
    return logit(np.asarray(win_rates, dtype=np.float64)[:, None] * steps[None, :])


def price_weight(knob: float) -> float:
    """``λ = x / (1 - x)``: how much predicted quality one unit of relative price is worth."""
    if knob >= 1.0:
        return math.inf
    return knob / (1.0 - knob)


def utilities(scores: np.ndarray, relative_costs: Sequence[float] | np.ndarray, knob: float) -> np.ndarray:
    """``p_m - λ c_m`` for every prompt and model (cheapest first); at ``x = 1`` only the price counts."""
    costs = np.asarray(relative_costs, dtype=np.float64)
    lam = price_weight(knob)
    if math.isinf(lam):
        return np.broadcast_to(-costs, np.shape(scores)).copy()
    quality = 0.5 * (1.0 + np.tanh(0.5 * np.asarray(scores, dtype=np.float64)))
    return quality - lam * costs


def choose_indices(scores: np.ndarray, knob: float, relative_costs: Sequence[float] | np.ndarray) -> np.ndarray:
    """The ladder index each prompt goes to at ``knob`` (the first, i.e. cheapest, of equal utilities)."""
    return np.argmax(utilities(scores, relative_costs, knob), axis=1)


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
    #: The chosen model's predicted quality ``sigmoid(s_m)``.
    quality: float
    #: The other models, best predicted first: the order fallback tries them in.
    fallbacks: tuple[str, ...]


def decide(scores_row: np.ndarray, knob: float, ladder: ModelLadder) -> MultiDecision:
    """Route one prompt given its scores (cheapest first)."""
    row = np.asarray(scores_row, dtype=np.float64)
    index = int(choose_indices(row[None, :], knob, ladder.relative_costs)[0])
    quality = float(0.5 * (1.0 + np.tanh(0.5 * row[index])))
    order = [ladder.names[i] for i in quality_order(row) if i != index]
    return MultiDecision(ladder.names[index], quality, tuple(order))


def decide_row(
    row: Sequence[float], knob: float, ladder: ModelLadder, costs: Sequence[float] | None = None
) -> MultiDecision:
    """:func:`decide` in plain Python for one prompt (the server's hot path; N is small).
    ``costs``: ``ladder.relative_costs``, precomputed by the caller."""
    n = len(row)
    costs = ladder.relative_costs if costs is None else costs
    tanh = math.tanh
    if knob >= 1.0:
        index = min(range(n), key=costs.__getitem__)
    else:
        lam = knob / (1.0 - knob)
        index, best = 0, -math.inf
        for i in range(n):
            utility = 0.5 * (1.0 + tanh(0.5 * row[i])) - lam * costs[i]
            if utility > best:
                index, best = i, utility
    names = ladder.names
    # best predicted first; candidates listed priciest first so that ties (stable sort) keep the pricier one
    order = sorted(range(n - 1, -1, -1), key=row.__getitem__, reverse=True)
    quality = 0.5 * (1.0 + tanh(0.5 * row[index]))
    return MultiDecision(names[index], quality, tuple([names[i] for i in order if i != index]))


def decide_fallback(win_rate: float, knob: float, ladder: ModelLadder, costs: Sequence[float]) -> MultiDecision:
    """:func:`decide_row` for a two-model router's ladder fallback, straight from its win rate ``w``
    (predicted quality ``w * k / (N - 1)``; no logits): the server's hot path for ``random`` & co."""
    names = ladder.names
    n = len(names)
    top = n - 1
    w = min(max(float(win_rate), _EPS), 1.0 - _EPS)
    if knob >= 1.0:
        index = min(range(n), key=costs.__getitem__)
    else:
        lam = knob / (1.0 - knob)
        index, best = 0, -math.inf
        for k in range(n):
            utility = max(w * k / top, _EPS) - lam * costs[k]
            if utility > best:
                index, best = k, utility
    # quality rises with the price, so the fallback order is the ladder from the top down
    return MultiDecision(names[index], max(w * index / top, _EPS), tuple([names[k] for k in range(top, -1, -1) if k != index]))


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
        w = float(router.calculate_strong_win_rate(prompt))
        top = len(names) - 1
        out = []
        for k in range(len(names)):
            p = min(max(w * k / top, _EPS), 1.0 - _EPS)
            out.append(math.log(p) - math.log1p(-p))
        return out
    return [float(v) for v in model_scores(router, [prompt], names)[0]]


def neighbours(ladder: ModelLadder, model: str) -> tuple[str, ...]:
    """Fallback order for a direct call to ``model``: pricier models upward, then cheaper ones downward."""
    i = ladder.names.index(model)
    return ladder.names[i + 1 :] + tuple(reversed(ladder.names[:i]))


# --- config: the ``models:`` list ------------------------------------------------------------


def ladder_from_config(models: Any, *, where: str = "config") -> ModelLadder:
    """The ladder of a config's ``models:`` list, validated but without reading API keys (for
    ``routellm calibrate`` and ``routellm route``, which call no upstream)."""
    from routellm.server.settings import Overrides

    if not isinstance(models, list):
        raise ConfigError(f"{where}: models: must be a list of priced models for N-model routing")
    return ModelLadder.from_upstreams(resolve_model_list(models, Overrides(), where=where, keys=False))


def resolve_model_list(
    models: list[Any], overrides: Overrides, *, where: str, keys: bool = True
) -> tuple[Upstream, ...]:
    """Validate a ``models:`` list into upstreams, cheapest first; one clear error per mistake.
    ``keys=False`` leaves API keys unread (no environment variable needs to be set)."""
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
        if keys:
            key = _key(section, None, label) or (Secret(overrides.api_key) if overrides.api_key else default_key)
        else:
            if section.api_key and section.api_key_env:
                raise ConfigError(f"{label}: give either 'api_key' or 'api_key_env', not both")
            key = None
        upstreams.append(Upstream(section.name, base, section.model or section.name, key, section.price))
    order = ladder_order([u.price for u in upstreams])  # pyright: ignore[reportArgumentType]  # every upstream has a price here
    return tuple(upstreams[i] for i in order)
