"""Turning battles into supervised labels for learned routers.

Battles come from :func:`routellm.battles.load_battles` (``model_a``/``model_b``/``winner``/``preference``).
A router scores the *strong* model's chances, so battles are first oriented: one side is the strong
model, the other a weak model. Then each battle gets a label, and battles of the same prompt are
pooled into per-prompt label counts: training on the counts (soft targets weighted by the number of
battles) gives the same cross-entropy as training on every battle row, at a fraction of the cost
when a prompt was judged many times (the AlpacaEval battles hold ~57 per prompt).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from routellm.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl

#: Values of the ``outcome`` column of :func:`orient_battles`.
OUTCOMES = ("strong", "tie", "weak")


def orient_battles(frame: pl.DataFrame, strong_model: str | None = None, weak_model: str | None = None) -> pl.DataFrame:
    """Battles seen from the strong model's side.

    ``strong_model`` names the strong side; battles without it are dropped. When it is ``None`` the
    model present in every battle is used (in the AlpacaEval battles, ``gpt4_1106_preview`` is
    ``model_a`` of every row); if there is no such model the data needs an explicit choice and a
    :class:`ConfigError` says so. ``weak_model`` keeps only battles against that model; ``None``
    pools every opponent as "the weak model".

    Returns columns ``prompt``, ``strong``, ``weak``, ``outcome`` (one of :data:`OUTCOMES`) and
    ``weak_preference`` (the judge's probability that the weak side is better).
    """
    import polars as pl

    if frame.height == 0:
        raise ConfigError("no battles to train on")
    if strong_model is None:
        strong_model = _common_model(frame)
    strong_is_a = pl.col("model_a") == strong_model
    strong_is_b = pl.col("model_b") == strong_model
    kept = frame.filter(strong_is_a | strong_is_b)
    if kept.height == 0:
        models = sorted(set(frame["model_a"].unique().to_list()) | set(frame["model_b"].unique().to_list()))
        raise ConfigError(f"no battles with strong model '{strong_model}' (models: {_preview(models)})")
    oriented = kept.select(
        pl.col("prompt"),
        pl.lit(strong_model).alias("strong"),
        pl.when(strong_is_a).then(pl.col("model_b")).otherwise(pl.col("model_a")).alias("weak"),
        pl.when(pl.col("winner") == "tie")
        .then(pl.lit("tie"))
        .when((pl.col("winner") == "model_a") == strong_is_a)
        .then(pl.lit("strong"))
        .otherwise(pl.lit("weak"))
        .alias("outcome"),
        pl.when(strong_is_a).then(pl.col("preference")).otherwise(1.0 - pl.col("preference")).alias("weak_preference"),
    ).filter(pl.col("weak") != strong_model)
    if weak_model is not None:
        oriented = oriented.filter(pl.col("weak") == weak_model)
        if oriented.height == 0:
            opponents = sorted(kept.select(pl.concat_list("model_a", "model_b").explode()).to_series().unique().to_list())
            opponents = [m for m in opponents if m != strong_model]
            raise ConfigError(
                f"no battles between '{strong_model}' and '{weak_model}' (opponents: {_preview(opponents)})"
            )
    return oriented


def _common_model(frame: pl.DataFrame) -> str:
    import polars as pl

    in_a = frame.group_by("model_a").len().rename({"model_a": "model"})
    in_b = frame.group_by("model_b").len().rename({"model_b": "model"})
    counts = pl.concat([in_a, in_b]).group_by("model").agg(pl.col("len").sum())
    everywhere = counts.filter(pl.col("len") == frame.height)["model"].to_list()
    if len(everywhere) != 1:
        raise ConfigError(
            "cannot tell which side of the battles is the strong model: no single model is in every battle; "
            "pass the strong model's name (--strong-model), and optionally the weak one (--weak-model)"
        )
    return str(everywhere[0])


def _preview(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


@dataclass(frozen=True)
class PromptLabels:
    """Battles pooled per prompt: ``counts[i, k]`` battles of ``prompts[i]`` carry label ``k``."""

    prompts: list[str]
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def weights(self) -> np.ndarray:
        """Battles per prompt."""
        return self.counts.sum(axis=1)

    @property
    def targets(self) -> np.ndarray:
        """Per-prompt label distributions (rows sum to 1)."""
        return self.counts / self.weights[:, None]

    def subset(self, index: np.ndarray) -> PromptLabels:
        return PromptLabels([self.prompts[i] for i in index], self.counts[index])


def pool_by_prompt(prompts: pl.Series, labels: pl.Series, num_labels: int) -> PromptLabels:
    """Count each label (``0 .. num_labels - 1``) per distinct prompt, in first-seen order."""
    import polars as pl

    frame = pl.DataFrame({"prompt": prompts, "label": labels.cast(pl.Int64)})
    bad = frame.filter((pl.col("label") < 0) | (pl.col("label") >= num_labels) | pl.col("label").is_null())
    if bad.height:
        raise ValueError(f"labels must be in 0..{num_labels - 1}, got {bad['label'][0]!r}")
    pooled = frame.group_by("prompt", maintain_order=True).agg(
        (pl.col("label") == k).sum().alias(str(k)) for k in range(num_labels)
    )
    counts = pooled.select(str(k) for k in range(num_labels)).to_numpy().astype(np.float64)
    return PromptLabels(pooled["prompt"].to_list(), counts)


def split_by_prompt(n: int, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled train/validation indices over ``n`` distinct prompts (no prompt in both)."""
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"validation fraction must be between 0 and 1, got {val_fraction}")
    n_val = max(1, round(n * val_fraction))
    if n - n_val < 1:
        raise ConfigError(f"{n} distinct prompt(s) are too few to hold out {val_fraction:.0%} for validation")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def weighted_auc(scores: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> float:
    """ROC AUC of ``scores`` where item ``i`` stands for ``positives[i]`` positive and ``negatives[i]``
    negative examples (pooled battles): the chance a random positive outscores a random negative,
    ties counting half."""
    scores = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.asarray(negatives, dtype=np.float64)
    if pos.sum() <= 0 or neg.sum() <= 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    s, p, q = scores[order], pos[order], neg[order]
    # Group equal scores so ties count half.
    _, start = np.unique(s, return_index=True)
    p_group = np.add.reduceat(p, start)
    q_group = np.add.reduceat(q, start)
    neg_below = np.cumsum(q_group) - q_group
    wins = (p_group * (neg_below + 0.5 * q_group)).sum()
    return float(wins / (pos.sum() * neg.sum()))


def weighted_cross_entropy(probs: np.ndarray, data: PromptLabels) -> float:
    """Mean cross-entropy of predicted label distributions ``probs`` over every pooled battle of ``data``."""
    return float(-(data.counts * np.log(np.clip(probs, 1e-12, 1.0))).sum() / data.counts.sum())


def weighted_accuracy(probs: np.ndarray, data: PromptLabels) -> float:
    """Share of battles whose label is the prompt's most probable one in ``probs``."""
    predicted = probs.argmax(axis=1)
    return float(data.counts[np.arange(len(data)), predicted].sum() / data.counts.sum())


def prior_cross_entropy(train: PromptLabels, val: PromptLabels) -> float:
    """Validation loss of always predicting the training label frequencies (what "learned nothing" scores)."""
    prior = train.counts.sum(axis=0) / train.counts.sum()
    return weighted_cross_entropy(np.tile(prior, (len(val), 1)), val)


@dataclass(frozen=True)
class TrainingLabels:
    """Battles turned into per-prompt labels and split for training, as the routers' trainers use them."""

    #: Where the battles came from (their path or dataset id, ``<frame>`` for a data frame).
    source: str
    #: The battles seen from the strong side (:func:`orient_battles`).
    oriented: pl.DataFrame
    data: PromptLabels
    train: PromptLabels
    val: PromptLabels

    @property
    def strong_model(self) -> str:
        return str(self.oriented["strong"][0])

    @property
    def weak_models(self) -> list[str]:
        return sorted(self.oriented["weak"].unique().to_list())


def training_labels(
    battles: str | Path | pl.DataFrame,
    label: Callable[[pl.DataFrame], PromptLabels],
    *,
    strong_model: str | None,
    weak_model: str | None,
    max_prompts: int | None,
    val_fraction: float,
    seed: int,
) -> TrainingLabels:
    """Load and orient ``battles``, pool them per prompt with ``label``, keep at most ``max_prompts``
    prompts (drawn at random with ``seed``) and split them by prompt for validation."""
    from routellm.battles import load_battles

    source = "<frame>" if not isinstance(battles, str | Path) else str(battles)
    frame = battles if not isinstance(battles, str | Path) else load_battles(battles)
    oriented = orient_battles(frame, strong_model, weak_model)
    data = label(oriented)
    if max_prompts is not None and max_prompts < len(data):
        keep = np.sort(np.random.default_rng(seed).permutation(len(data))[:max_prompts])
        data = data.subset(keep)
    train_idx, val_idx = split_by_prompt(len(data), val_fraction, seed)
    return TrainingLabels(source, oriented, data, data.subset(train_idx), data.subset(val_idx))
