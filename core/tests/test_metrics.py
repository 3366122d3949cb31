import math

import numpy as np
import pytest

from routellm.evaluation.metrics import (
    Curve,
    apgr,
    auc,
    average_curves,
    compute_metrics,
    cpt,
    oracle_curve,
    oracle_quality,
    sweep,
    sweep_thresholds,
)


def test_linear_curve_by_hand():
    curve = Curve.build([0.0, 0.5, 1.0], [0.0, 0.5, 1.0])
    m = compute_metrics(curve, weak=0.0, strong=1.0)
    assert m.auc == pytest.approx(0.5)
    assert m.apgr == pytest.approx(0.5)
    assert (m.cpt20, m.cpt50, m.cpt80) == pytest.approx((0.2, 0.5, 0.8))


def test_concave_curve_by_hand():
    # quality 2 -> 4 (weak -> strong); half the strong calls already reach strong quality.
    curve = Curve.build([1.0, 0.5, 0.0], [4.0, 4.0, 2.0])
    assert curve.strong_share == [0.0, 0.5, 1.0]
    assert auc(curve) == pytest.approx(0.5 * (2 + 4) / 2 + 0.5 * 4)  # 3.5
    assert apgr(curve, 2.0, 4.0) == pytest.approx((3.5 - 2.0) / 2.0)  # 0.75
    assert cpt(curve, 2.0, 4.0, 0.5) == pytest.approx(0.25)
    assert cpt(curve, 2.0, 4.0, 0.8) == pytest.approx(0.4)


def test_cpt_takes_the_first_crossing_and_nan_when_never_reached():
    curve = Curve.build([0.0, 0.2, 0.4, 1.0], [0.0, 0.6, 0.3, 1.0])
    assert cpt(curve, 0.0, 1.0, 0.5) == pytest.approx(0.2 * 0.5 / 0.6)
    flat = Curve.build([0.0, 1.0], [0.0, 0.4])
    assert math.isnan(cpt(flat, 0.0, 1.0, 0.5))


def test_sweep_matches_the_seed_quantiles_by_hand():
    win_rates = np.array([0.1, 0.4, 0.35, 0.8])
    strong = np.array([1.0, 1.0, 0.0, 1.0])
    weak = np.array([0.0, 1.0, 1.0, 0.0])
    curve = sweep(win_rates, strong, weak, num_results=2)
    # thresholds: min 0.1, median 0.375, max 0.8 (strictly above -> nothing strong)
    assert curve.thresholds == pytest.approx([0.8, 0.375, 0.1])
    assert curve.strong_share == [0.0, 0.5, 1.0]
    assert curve.quality == pytest.approx([0.5, 0.75, 0.75])


def test_constant_router_is_a_straight_line():
    rng = np.random.default_rng(0)
    strong = rng.integers(0, 2, 500).astype(float)
    weak = rng.integers(0, 2, 500).astype(float) * (strong == 1)
    curve = sweep(np.full(500, 0.5), strong, weak, 10)
    assert curve.strong_share[0] == 0.0 and set(curve.strong_share[1:]) == {1.0}
    m = compute_metrics(curve, weak.mean(), strong.mean())
    assert m.apgr == pytest.approx(0.5)
    assert m.cpt50 == pytest.approx(0.5)


def test_perfect_ranking_reaches_the_oracle():
    rng = np.random.default_rng(1)
    weak = rng.uniform(1, 8, 1000)
    strong = weak + rng.uniform(0, 2, 1000)  # every prompt gains from the strong model
    perfect = sweep(strong - weak, strong, weak, 10)
    best = oracle_curve(strong, weak, 10)
    assert perfect.strong_share == pytest.approx(best.strong_share)
    assert perfect.quality == pytest.approx(best.quality)
    m_perfect = compute_metrics(perfect, weak.mean(), strong.mean())
    m_best = compute_metrics(best, weak.mean(), strong.mean())
    assert m_perfect.apgr == pytest.approx(m_best.apgr)
    assert m_perfect.apgr == pytest.approx(2 / 3, abs=0.02)  # uniform gains: integral of 1-(1-s)^2
    # A reversed ranking is the worst router.
    worst = compute_metrics(sweep(weak - strong, strong, weak, 10), weak.mean(), strong.mean())
    assert worst.apgr == pytest.approx(1 / 3, abs=0.02)  # integral of s^2


def test_oracle_never_loses_quality_and_exceeds_strong_when_weak_sometimes_wins():
    strong = np.array([1.0, 0.0, 1.0, 1.0])
    weak = np.array([0.0, 1.0, 1.0, 0.0])
    assert oracle_quality(strong, weak, 0.0) == pytest.approx(0.5)
    assert oracle_quality(strong, weak, 0.25) == pytest.approx(0.75)
    assert oracle_quality(strong, weak, 0.125) == pytest.approx(0.625)  # fractional call
    assert oracle_quality(strong, weak, 1.0) == pytest.approx(1.0)
    assert oracle_quality(strong, weak, 1.0) > strong.mean()
    m = compute_metrics(oracle_curve(strong, weak, 4), weak.mean(), strong.mean())
    assert m.apgr > 1.0


def test_random_router_is_near_one_half():
    rng = np.random.default_rng(2)
    strong = (rng.random(4000) < 0.8).astype(float)
    weak = (rng.random(4000) < 0.6).astype(float)
    curves = [sweep(np.random.default_rng(100 + seed).random(4000), strong, weak, 10) for seed in range(5)]
    m = compute_metrics(average_curves(curves), weak.mean(), strong.mean())
    assert m.apgr == pytest.approx(0.5, abs=0.03)
    assert m.cpt50 == pytest.approx(0.5, abs=0.06)


def test_sweep_rejects_bad_input():
    with pytest.raises(ValueError, match="num_results"):
        sweep_thresholds(np.zeros(3), 0)
    with pytest.raises(ValueError, match="NaN"):
        sweep(np.array([0.1, np.nan]), np.ones(2), np.zeros(2))
    with pytest.raises(ValueError, match="win rates for"):
        sweep(np.array([0.1]), np.ones(2), np.zeros(2))
