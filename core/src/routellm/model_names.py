"""Router model names: ``router-<router>-<threshold>``, shared by the server and the Controller.

Every form a client may type is parsed here, and only here, so a new form (for instance one that
asks for a share of strong-model calls) is added in one place.
"""

from __future__ import annotations

import math

import msgspec

PREFIX = "router-"


class RouterModel(msgspec.Struct, frozen=True):
    """A parsed router model name: which router, and the win-rate threshold for the strong model."""

    router: str
    threshold: float

    @property
    def name(self) -> str:
        return format_model_name(self.router, self.threshold)


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


def parse_model_name(name: str) -> RouterModel:
    """Parse ``router-<router>-<threshold>``; router names may contain underscores (and dashes).

    Raises :class:`ModelNameError` for a name without the prefix, without a router, or whose
    threshold is not a number in [0, 1]. Whether the router exists is the caller's check.
    """
    if not name.startswith(PREFIX):
        raise ModelNameError(
            f"invalid model name '{name}': expected 'router-<router>-<threshold>', e.g. 'router-mf-0.5'"
        )
    router, sep, raw = name[len(PREFIX) :].rpartition("-")
    if not sep or not router or not raw:
        raise ModelNameError(
            f"invalid model name '{name}': expected 'router-<router>-<threshold>', e.g. 'router-mf-0.5'"
        )
    try:
        threshold = float(raw)
    except ValueError:
        raise ModelNameError(
            f"invalid model name '{name}': threshold '{raw}' is not a number (expected a value in [0, 1])"
        ) from None
    if math.isnan(threshold) or not 0.0 <= threshold <= 1.0:
        raise ModelNameError(f"invalid model name '{name}': threshold {raw} is outside [0, 1]")
    return RouterModel(router=router, threshold=threshold)
