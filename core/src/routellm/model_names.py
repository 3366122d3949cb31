"""Router model names, shared by the server, the Controller and calibration.

Two forms, parsed here and only here:

* ``router-<router>-<threshold>``: RouteLLM's form, a raw win-rate threshold in [0, 1];
* ``router-<router>-p<percent>``: about ``percent`` % of calls go to the strong model, using the
  thresholds ``routellm calibrate`` saved (see :mod:`routellm.calibration`), e.g. ``router-mf-p20``;
  when routing among a ``models:`` list of N priced models, about ``percent`` % of the spend of
  always calling the most expensive model (see :mod:`routellm.multi_model_calibration`);
* ``router-<router>-b<usd>``: among N priced models, about ``usd`` dollars per 1,000 requests.
"""

from __future__ import annotations

import math

import msgspec

PREFIX = "router-"
#: Longest model name accepted: names come from clients, and every check on them stays linear.
MAX_NAME_LENGTH = 256
_DIGITS = frozenset("0123456789")


class RouterModel(msgspec.Struct, frozen=True):
    """A parsed router model name: which router, and the win-rate threshold for the strong model.

    A ``p<percent>`` name carries ``strong_share`` (0..1) and no threshold until calibration
    resolves it (:meth:`with_threshold`).
    """

    router: str
    threshold: float | None
    strong_share: float | None = None
    #: ``router-<r>-b<usd>``: average USD per 1,000 requests (routing among N priced models only).
    budget: float | None = None

    @property
    def name(self) -> str:
        if self.budget is not None:
            return f"{PREFIX}{self.router}-b{format_threshold(self.budget)}"
        if self.strong_share is not None:
            return f"{PREFIX}{self.router}-p{format_threshold(self.strong_share * 100)}"
        assert self.threshold is not None  # a name has a threshold or a share
        return format_model_name(self.router, self.threshold)

    def with_threshold(self, threshold: float) -> RouterModel:
        return RouterModel(self.router, threshold, self.strong_share, self.budget)


class ModelNameError(ValueError):
    """A ``model`` value that is not a valid router model name; the message says what to send."""


def is_router_model(name: str) -> bool:
    """Whether ``name`` asks for routing (starts with ``router-``) rather than naming a model."""
    return name.startswith(PREFIX)


def format_threshold(threshold: float) -> str:
    """The shortest positional form that reads back exactly (``0.11593``, ``1``; never ``1e-05``,
    whose dash would split the name)."""
    import numpy as np

    return np.format_float_positional(float(threshold), trim="-")


def format_model_name(router: str, threshold: float) -> str:
    """``router-<router>-<threshold>``, e.g. ``router-mf-0.11593``."""
    return f"{PREFIX}{router}-{format_threshold(threshold)}"


def shown(name: str, limit: int = 80) -> str:
    """``name`` cut for an error message (a client may send a megabyte of it)."""
    return name if len(name) <= limit else f"{name[:limit]}... ({len(name)} characters)"


def _is_mantissa(text: str) -> bool:
    """``p?`` or ``b?`` then digits with at most one dot, ending in a digit (``p12.5``, ``.5``, ``1``); linear."""
    text = text[1:] if text[:1] in ("p", "b") else text
    return bool(text) and text[-1] in _DIGITS and text.count(".") <= 1 and set(text) <= _DIGITS | {"."}


def _split(rest: str) -> tuple[str, str]:
    """``(router, number)`` from ``<router>-<number>``, keeping the dash of ``1e-05`` with the number.

    Two ``rpartition`` calls and a character scan: linear in the name's length, unlike a regex
    searched from every position (which backtracked quadratically on ``router-x-<digits>x``).
    """
    router, _, raw = rest.rpartition("-")
    if raw and set(raw) <= _DIGITS and router[-1:] in ("e", "E"):
        head, sep, mantissa = router[:-1].rpartition("-")
        if sep and _is_mantissa(mantissa):
            return head, f"{mantissa}{router[-1]}-{raw}"
    return router, raw


def parse_model_name(name: str) -> RouterModel:
    """Parse ``router-<router>-<threshold>`` or ``router-<router>-p<percent>``; router names may
    contain underscores (and dashes).

    Raises :class:`ModelNameError` for a name without the prefix, without a router, or whose
    threshold is not a number in [0, 1] (percent in [0, 100]). Whether the router exists is the
    caller's check.
    """
    if len(name) > MAX_NAME_LENGTH:
        raise ModelNameError(
            f"invalid model name '{shown(name)}': longer than {MAX_NAME_LENGTH} characters"
        )
    if not name.startswith(PREFIX):
        raise ModelNameError(
            f"invalid model name '{name}': expected 'router-<router>-<threshold>' (e.g. 'router-mf-0.5') "
            "or 'router-<router>-p<percent of strong calls>' (e.g. 'router-mf-p20')"
        )
    router, raw = _split(name[len(PREFIX) :])
    if not router or not raw:
        raise ModelNameError(
            f"invalid model name '{name}': expected 'router-<router>-<threshold>' (e.g. 'router-mf-0.5') "
            "or 'router-<router>-p<percent of strong calls>' (e.g. 'router-mf-p20')"
        )
    if raw.startswith("b"):
        try:
            budget = float(raw[1:])
        except ValueError:
            budget = math.nan
        if math.isnan(budget) or budget < 0.0 or math.isinf(budget):
            raise ModelNameError(
                f"invalid model name '{name}': '{raw}' must be 'b' and a budget in USD per 1,000 requests, "
                "e.g. 'router-mf-b2.5'"
            )
        return RouterModel(router=router, threshold=None, budget=budget)
    if raw.startswith("p"):
        try:
            percent = float(raw[1:])
        except ValueError:
            percent = math.nan
        if math.isnan(percent) or not 0.0 <= percent <= 100.0:
            raise ModelNameError(
                f"invalid model name '{name}': '{raw}' must be 'p' and a percent of strong calls in [0, 100], "
                "e.g. 'router-mf-p20'"
            )
        return RouterModel(router=router, threshold=None, strong_share=percent / 100.0)
    try:
        threshold = float(raw)
    except ValueError:
        raise ModelNameError(
            f"invalid model name '{name}': threshold '{raw}' is not a number (expected a value in [0, 1])"
        ) from None
    if math.isnan(threshold) or not 0.0 <= threshold <= 1.0:
        raise ModelNameError(f"invalid model name '{name}': threshold {raw} is outside [0, 1]")
    return RouterModel(router=router, threshold=threshold)
