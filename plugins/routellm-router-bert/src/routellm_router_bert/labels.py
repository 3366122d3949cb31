"""The bert router's three labels and how battles map to them.

As in RouteLLM's BERT router, the classifier has three outputs and the strong win rate is
``1 - P(tie) - P(weak wins)``. A battle, oriented by :func:`routellm_train.battle_labels.orient_battles`
(the strong side is the named strong model, or the model present in every battle), is labelled
from its winner: strong model won -> 0, tie -> 1, weak model won -> 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routellm_train.battle_labels import PromptLabels, pool_by_prompt

if TYPE_CHECKING:
    import polars as pl

#: Label index -> name, in the order of the classifier's outputs.
LABELS = ("strong_wins", "tie", "weak_wins")
#: Outcome of an oriented battle -> label index.
OUTCOME_TO_LABEL = {"strong": 0, "tie": 1, "weak": 2}


def prompt_labels(oriented: pl.DataFrame) -> PromptLabels:
    """Per-prompt counts of the three labels from oriented battles."""
    import polars as pl

    labels = oriented["outcome"].replace_strict(OUTCOME_TO_LABEL, return_dtype=pl.Int64)
    return pool_by_prompt(oriented["prompt"], labels, len(LABELS))
