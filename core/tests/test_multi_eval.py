"""N-model evaluation: the single-model hull, AIQ, the oracle, the knob sweep and its report."""

from __future__ import annotations

import numpy as np
import pytest

from routellm.benchmark import BenchmarkData
from routellm.errors import ConfigError
from routellm.evaluation.multi import (
    SINGLE_HULL,
    CostPoint,
    aiq,
    cost_to_reach,
    evaluate_multi,
    nondecreasing_hull,
    oracle_point,
    quality_within,
)
from routellm.evaluation.multi_report import markdown_table, write_outputs


def test_hull_drops_points_below_and_after_the_peak():
    points = np.array([[1.0, 0.5], [2.0, 0.55], [3.0, 0.8], [4.0, 0.7], [10.0, 0.9], [12.0, 0.85]])
    hull = nondecreasing_hull(points)
    # (2, 0.55) lies under the chord (1, .5)-(3, .8); (4, .7) under (3, .8)-(10, .9); (12, .85) decreases
    np.testing.assert_allclose(hull, [[1.0, 0.5], [3.0, 0.8], [10.0, 0.9]])


def test_aiq_by_hand():
    a = np.array([[0.0, 0.5], [10.0, 1.0]])
    b = np.array([[5.0, 0.8]])
    scores = aiq({"a": a, "b": b})
    assert scores["a"] == pytest.approx(0.75)  # trapezoid 0..10 of 0.5->1.0, over 10
    assert scores["b"] == pytest.approx(0.8 * 5 / 10)  # flat from its own start (5) to 10, as RouterBench does


def test_oracle_takes_the_cheapest_correct_model():
    quality = np.array([[1, 1, 1], [0, 1, 1], [0, 0, 0], [0, 0, 1]], dtype=float)
    cost = np.array([[1, 2, 3]] * 4, dtype=float)
    point = oracle_point(quality, cost)
    assert point.quality == 0.75 and point.cost == pytest.approx((1 + 2 + 1 + 3) / 4)


def test_cost_figures():
    pts = [CostPoint(1.0, 0.6), CostPoint(2.0, 0.8), CostPoint(3.0, 0.9)]
    assert cost_to_reach(pts, 0.8) == 2.0 and cost_to_reach(pts, 0.95) is None
    assert quality_within(pts, 2.5) == 0.8 and quality_within(pts, 0.5) is None


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    skill = rng.uniform(size=n)
    names = ["small", "medium", "large"]
    ability = {"small": 0.3, "medium": 0.6, "large": 0.9}
    quality = {m: (skill < ability[m]).astype(float) for m in names}
    cost = {"small": np.full(n, 0.0001), "medium": np.full(n, 0.001), "large": np.full(n, 0.01)}
    prompts = [f"p{i}" for i in range(n)]
    data = BenchmarkData("toy", prompts, quality, "large", "small", cost=cost)
    return data, skill


def test_evaluate_multi_with_a_perfect_router(tmp_path):
    data, skill = _data()
    # logit-scale scores: the model that can answer gets +5, the others -5 (cheapest first: small, medium, large)
    thresholds = np.array([0.3, 0.6, 0.9])
    scores = np.where(skill[:, None] < thresholds[None, :], 5.0, -5.0)
    result = evaluate_multi(data, scores={"perfect": scores}, num_points=50)
    assert result.models == ["small", "medium", "large"]
    assert result.best_model == "large" and result.cheapest_model == "small"
    perfect = result.router("perfect")
    assert perfect.aiq > result.hull_aiq
    large = next(p for p in result.singles if p.label == "large")
    assert perfect.cost_to_match_best < large.cost
    assert max(p.quality for p in perfect.points) == pytest.approx(large.quality)
    assert result.oracle.quality == pytest.approx(large.quality)
    table = markdown_table(result)
    assert "| perfect |" in table and SINGLE_HULL in table
    written = write_outputs(result, tmp_path, charts=False)
    assert [p.name for p in written] == ["toy_models.json", "toy_models.md"]


def test_evaluate_multi_needs_costs():
    data, _ = _data()
    plain = BenchmarkData("plain", data.prompts, data.quality, "large", "small")
    with pytest.raises(ConfigError, match="records no per-prompt cost"):
        evaluate_multi(plain, scores={})
    with pytest.raises(ConfigError, match="no cost for model 'huge'"):
        evaluate_multi(data, scores={}, models=["small", "huge"])


def test_random_router_through_the_ladder_fallback():
    from routellm.router import Router

    class Coin(Router):
        def calculate_strong_win_rate(self, prompt):
            return (hash(prompt) % 1000) / 1000

    data, _ = _data()
    result = evaluate_multi(data, {"coin": {}}, resolve=lambda name: Coin, num_points=30)
    coin = result.router("coin")
    costs = [p.cost for p in coin.points]
    assert min(costs) == pytest.approx(0.0001) and max(costs) > 0.0099  # w == 0 stays on the cheapest
    assert coin.aiq < result.hull_aiq + 0.02  # random routing does not beat mixing single models
