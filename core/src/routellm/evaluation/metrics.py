"""Routing metrics over a quality-vs-strong-calls curve (the RouteLLM paper's definitions).

A curve is a set of points (share of calls sent to the strong model in 0..1, mean quality).
``weak`` and ``strong`` are the qualities of always calling one model.

* PGR at a point: ``(quality - weak) / (strong - weak)``.
* APGR: the area under the PGR curve over the curve's strong-call range, divided by that range
  (over 0..1 it is the plain area).
* AUC: the area under the quality curve (trapezoids over the strong-call share).
* CPT(x): the smallest share of strong calls at which the curve (linearly interpolated) reaches
  ``weak + x * (strong - weak)``; ``nan`` when it never does.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

#: The CPT levels reported everywhere.
CPT_LEVELS = (0.2, 0.5, 0.8)


class Curve(msgspec.Struct, frozen=True):
    """Points of quality against the share of strong calls, sorted by share."""

    strong_share: list[float]
    quality: list[float]
    #: The win-rate threshold behind each point (empty for curves that have none, e.g. the oracle).
    thresholds: list[float] = []

    @classmethod
    def build(cls, strong_share, quality, thresholds=None) -> Curve:
        """A curve sorted by share (stable, so equal shares keep their sweep order)."""
        share = np.asarray(strong_share, dtype=np.float64)
        qual = np.asarray(quality, dtype=np.float64)
        order = np.argsort(share, kind="stable")
        thr = [] if thresholds is None else np.asarray(thresholds, dtype=np.float64)[order].tolist()
        return cls(share[order].tolist(), qual[order].tolist(), thr)


class Metrics(msgspec.Struct, frozen=True):
    """The summary numbers of one curve."""

    apgr: float
    auc: float
    cpt20: float
    cpt50: float
    cpt80: float


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0) if len(x) > 1 else 0.0


def auc(curve: Curve) -> float:
    """Area under the quality curve over the strong-call share."""
    return _trapezoid(np.asarray(curve.quality), np.asarray(curve.strong_share))


def apgr(curve: Curve, weak: float, strong: float) -> float:
    """Average performance gap recovered (RouteLLM's formula: AUC relative to the weak/strong areas)."""
    x = np.asarray(curve.strong_share)
    span = float(x[-1] - x[0]) if len(x) > 1 else 0.0
    if span <= 0 or strong == weak:
        return math.nan
    return (auc(curve) - weak * span) / ((strong - weak) * span)


def cpt(curve: Curve, weak: float, strong: float, level: float) -> float:
    """Minimum share of strong calls at which quality reaches ``level`` of the weak-strong gap."""
    target = weak + level * (strong - weak)
    x = np.asarray(curve.strong_share)
    y = np.asarray(curve.quality)
    if len(x) == 0:
        return math.nan
    if y[0] >= target:
        return float(x[0])
    for i in range(1, len(x)):
        if y[i] >= target:
            # The curve crosses the target between points i-1 (below) and i (at or above).
            frac = (target - y[i - 1]) / (y[i] - y[i - 1])
            return float(x[i - 1] + frac * (x[i] - x[i - 1]))
    return math.nan


def compute_metrics(curve: Curve, weak: float, strong: float) -> Metrics:
    """APGR, AUC and CPT(20/50/80%) of a curve."""
    c20, c50, c80 = (cpt(curve, weak, strong, level) for level in CPT_LEVELS)
    return Metrics(apgr=apgr(curve, weak, strong), auc=auc(curve), cpt20=c20, cpt50=c50, cpt80=c80)


def routed_quality(win_rates: np.ndarray, strong_q: np.ndarray, weak_q: np.ndarray, threshold: float, *, strict=False):
    """(share of strong calls, mean quality) when prompts at or above ``threshold`` go to the strong model
    (strictly above with ``strict``)."""
    selection = win_rates > threshold if strict else win_rates >= threshold
    quality = np.where(selection, strong_q, weak_q)
    return float(selection.mean()), float(quality.mean())


def sweep_thresholds(win_rates: np.ndarray, num_results: int) -> np.ndarray:
    """RouteLLM's thresholds: the edges of ``num_results`` equal-count bins of the win rates
    (``num_results + 1`` quantiles, linear interpolation, duplicates kept)."""
    if num_results < 1:
        raise ValueError(f"num_results must be at least 1, got {num_results}")
    return np.quantile(np.asarray(win_rates, dtype=np.float64), np.linspace(0.0, 1.0, num_results + 1))


def sweep(win_rates: np.ndarray, strong_q: np.ndarray, weak_q: np.ndarray, num_results: int = 10) -> Curve:
    """The curve of a router: one point per quantile threshold, as in RouteLLM.

    Every threshold routes win rates at or above it to the strong model, except the highest, which
    routes strictly above it (so the sweep reaches 0% strong calls).
    """
    win_rates = np.asarray(win_rates, dtype=np.float64)
    if win_rates.shape != np.shape(strong_q) or win_rates.shape != np.shape(weak_q):
        raise ValueError(f"{win_rates.shape[0]} win rates for {len(strong_q)} prompts")
    if not np.isfinite(win_rates).all():
        raise ValueError("win rates contain NaN or infinite values")
    thresholds = sweep_thresholds(win_rates, num_results)
    shares, qualities = [], []
    for i, threshold in enumerate(thresholds):
        share, quality = routed_quality(win_rates, strong_q, weak_q, threshold, strict=i == len(thresholds) - 1)
        shares.append(share)
        qualities.append(quality)
    return Curve.build(shares, qualities, thresholds)


def average_curves(curves: list[Curve]) -> Curve:
    """Point-wise mean of curves from the same sweep (e.g. a random router under several seeds)."""
    if not curves:
        raise ValueError("no curves to average")
    share = np.mean([c.strong_share for c in curves], axis=0)
    quality = np.mean([c.quality for c in curves], axis=0)
    thresholds = np.mean([c.thresholds for c in curves], axis=0) if all(c.thresholds for c in curves) else None
    return Curve.build(share, quality, thresholds)


def oracle_quality(strong_q: np.ndarray, weak_q: np.ndarray, share: float) -> float:
    """Best mean quality reachable with ``share`` of calls to the strong model.

    The oracle knows each prompt's gain ``strong - weak`` and spends its ``share * n`` strong calls
    on the largest positive gains (fractional calls interpolate linearly, as in RouteLLM's MMLU and
    GSM8K oracle); it never sends a prompt to the strong model where that loses quality.
    """
    strong_q = np.asarray(strong_q, dtype=np.float64)
    weak_q = np.asarray(weak_q, dtype=np.float64)
    n = len(weak_q)
    gains = np.sort(np.clip(strong_q - weak_q, 0.0, None))[::-1]
    calls = min(max(share, 0.0), 1.0) * n
    whole = int(math.floor(calls))
    bonus = gains[:whole].sum() + (gains[whole] * (calls - whole) if whole < n else 0.0)
    return float((weak_q.sum() + bonus) / n)


def oracle_curve(strong_q: np.ndarray, weak_q: np.ndarray, num_results: int = 10) -> Curve:
    """The optimal router's curve at ``num_results + 1`` evenly spaced strong-call shares."""
    shares = np.linspace(0.0, 1.0, num_results + 1)
    return Curve.build(shares, [oracle_quality(strong_q, weak_q, s) for s in shares])
