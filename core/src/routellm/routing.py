"""Turning a strong win rate into a model choice."""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

#: RouteLLM's model pair, used when a config names no models.
DEFAULT_STRONG = "gpt-4-1106-preview"
DEFAULT_WEAK = "mixtral-8x7b-instruct-v0.1"


class ModelPair(msgspec.Struct, frozen=True):
    """The two models a request is routed between."""

    strong: str
    weak: str

    @property
    def tiers(self) -> tuple[str, ...]:
        """Models from strongest to weakest."""
        return (self.strong, self.weak)


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` as a float in [0, 1], or raise ``ValueError`` saying so."""
    value = float(threshold)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold!r}")
    return value


def choose_model(win_rate: float, thresholds: Sequence[float], models: Sequence[str]) -> str:
    """Pick a model from ``models`` (strongest first) given the strong model's win rate.

    ``thresholds`` holds one threshold per model boundary, ``len(models) - 1`` of them, in
    descending order: the first model whose threshold the win rate reaches (``>=``) is chosen,
    the last model otherwise. With two models this is RouteLLM's rule: at or above the threshold
    the strong model, below it the weak one.
    """
    if len(thresholds) != len(models) - 1:
        raise ValueError(f"{len(models)} models need {len(models) - 1} thresholds, got {len(thresholds)}")
    for model, threshold in zip(models, thresholds, strict=False):
        if win_rate >= threshold:
            return model
    return models[-1]
