"""How battles become the causal LLM's 1-5 score labels.

RouteLLM's classifier predicts a score from 1 to 5, where a high score means the (weak) assistant
is expected to answer well, and routes to the strong model with probability ``1 - P(score >= 4)``.
Battles oriented by :func:`routellm_train.battle_labels.orient_battles` carry ``weak_preference``, the
judge's probability that the weak model's answer is better (1 / 0.5 / 0 from the winner columns
when the source has no probabilities). It maps to five equal bins::

    weak_preference  [0, .2)  [.2, .4)  [.4, .6)  [.6, .8)  [.8, 1]
    score              1        2         3 (tie)   4         5

so with the default ``score_threshold`` 4 the strong win rate is the chance that the weak model is
*not* clearly preferred (a tie counts for the strong model; use 3 to count ties against it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routellm_train.battle_labels import PromptLabels, pool_by_prompt

if TYPE_CHECKING:
    import polars as pl

NUM_SCORES = 5


def score_labels(oriented: pl.DataFrame) -> pl.Series:
    """Score index (0 for ``[[1]]`` .. 4 for ``[[5]]``) of each oriented battle."""
    import polars as pl

    return (oriented["weak_preference"].clip(0.0, 1.0) * NUM_SCORES).floor().clip(0, NUM_SCORES - 1).cast(pl.Int64)


def prompt_labels(oriented: pl.DataFrame) -> PromptLabels:
    """Per-prompt counts of the five scores."""
    return pool_by_prompt(oriented["prompt"], score_labels(oriented), NUM_SCORES)
