"""Routing among N priced models: config, the knob rule, the ladder fallback, calibration, names, engine."""

from __future__ import annotations

import numpy as np
import pytest

from routellm.calibration import CalibrationFile, load_calibration, save_calibration
from routellm.engine import RequestError, RoutingEngine
from routellm.errors import ConfigError
from routellm.model_names import ModelNameError, RouterModel, parse_model_name
from routellm.multi_model import (
    ModelLadder,
    choose_indices,
    decide,
    neighbours,
    price_weight,
    utilities,
)
from routellm.multi_model_calibration import calibrate_scores, knob_for
from routellm.router import Router
from routellm.routing import ModelPair
from routellm.server.settings import Overrides, resolve_settings

LIST = [
    {"name": "big", "base_url": "http://big/v1", "api_key": "k1", "price": {"input": 10, "output": 30}},
    {"name": "tiny", "base_url": "http://tiny/v1", "api_key": "k2", "price": {"input": 0.1, "output": 0.1}},
    {"name": "mid", "base_url": "http://mid/v1", "api_key_env": "MID_KEY", "model": "mid-upstream",
     "price": {"input": 1, "output": 2}},
]


class TestConfig:
    def test_list_resolves_cheapest_first(self, monkeypatch):
        monkeypatch.setenv("MID_KEY", "k3")
        settings = resolve_settings(LIST, {"port": 7000})
        assert [u.name for u in settings.ladder] == ["tiny", "mid", "big"]
        assert settings.strong.name == "big" and settings.weak.name == "tiny"
        assert list(settings.upstreams) == ["tiny", "mid", "big"]
        mid = settings.upstreams["mid"]
        assert mid.model == "mid-upstream" and mid.api_key.reveal() == "k3" and mid.price.output == 2
        assert settings.server.port == 7000 and settings.multi_model

    def test_pair_is_unchanged(self):
        settings = resolve_settings({"strong": "a", "weak": "b"})
        assert not settings.multi_model and list(settings.upstreams) == ["a", "b"]

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({1: {"name": "tiny", "base_url": "http://x/v1"}}, r"models\[1\] \('tiny'\): missing 'price'"),
            ({1: {"name": "big", "price": {"input": 1, "output": 1}}}, "listed twice"),
            ({1: {"price": {"input": 1, "output": 1}}}, r"models\[1\]: missing 'name'"),
            ({1: {"name": "t", "base_url": "ftp://x", "price": {"input": 1, "output": 1}}}, "must start with http"),
            ({1: {"name": "t", "price": {"input": -1, "output": 1}}}, "price.input must be a finite number"),
            ({1: {"name": "t", "price": {"input": 1}}}, "missing required option 'output'"),
            ({1: {"name": "t", "prize": 3}}, "unknown option 'prize'"),
            ({1: {"name": "t", "api_key": "a", "api_key_env": "B", "price": {"input": 1, "output": 1}}}, "not both"),
            ({1: "tiny"}, r"models\[1\] must be a mapping"),
        ],
    )
    def test_one_clear_error_per_mistake(self, change, message, monkeypatch):
        monkeypatch.setenv("MID_KEY", "k3")
        models = [dict(m) for m in LIST]
        for index, value in change.items():
            models[index] = value
        with pytest.raises(ConfigError, match=message):
            resolve_settings(models, None, where="cfg.yaml")

    def test_list_needs_two_and_no_pair_flags(self):
        with pytest.raises(ConfigError, match="at least two models"):
            resolve_settings(LIST[:1])
        with pytest.raises(ConfigError, match="apply to a strong/weak pair"):
            resolve_settings(LIST[:2], overrides=Overrides(strong_model="x"))


LADDER = ModelLadder(("tiny", "mid", "big"), (0.1, 1, 10), (0.1, 2, 30))  # relative prices 0.005, 0.075, 1


class TestKnob:
    def test_extremes(self):
        rng = np.random.default_rng(0)
        scores = rng.normal(size=(300, 3)) * 2
        rel = LADDER.relative_costs
        assert rel[2] == 1.0 and rel[0] == pytest.approx(0.2 / 40)
        np.testing.assert_array_equal(choose_indices(scores, 0.0, rel), np.argmax(scores, axis=1))
        assert set(choose_indices(scores, 1.0, rel)) == {0}

    def test_spend_falls_as_the_knob_rises(self):
        rng = np.random.default_rng(1)
        scores = rng.normal(size=(500, 5)) + np.arange(5)
        cost = np.tile([1.0, 2.0, 4.0, 8.0, 16.0], (500, 1))
        rel = cost[0] / 16
        spend = [cost[np.arange(500), choose_indices(scores, x, rel)].mean() for x in np.linspace(0, 1, 41)]
        assert np.all(np.diff(spend) <= 1e-12) and spend[-1] == 1.0 and spend[0] > 12

    def test_price_weight(self):
        assert price_weight(0.5) == 1.0 and price_weight(0.0) == 0.0 and price_weight(1.0) == np.inf
        # mid (p = 0.88) beats big (p = 0.73) on quality and price; tiny (p = 0.5) wins once price dominates
        row = np.array([0.0, 2.0, 1.0])
        u = utilities(row[None, :], LADDER.relative_costs, 0.5)[0]
        np.testing.assert_allclose(u, 1 / (1 + np.exp(-row)) - np.array(LADDER.relative_costs))

    def test_decide_and_fallback_order(self):
        d = decide(np.array([0.0, 2.0, 1.0]), 0.5, LADDER)
        assert d.model == "mid" and d.fallbacks == ("big", "tiny")
        assert d.quality == pytest.approx(1 / (1 + np.exp(-2.0)))
        assert decide(np.array([0.0, 2.0, 1.0]), 0.95, LADDER).model == "tiny"  # λ = 19
        assert decide(np.array([0.0, 2.0, 4.0]), 0.0, LADDER).model == "big"
        assert decide(np.array([0.0, 2.0, 4.0]), 0.1, LADDER).model == "mid"  # λ = 1/9: +0.07 quality < 0.1 price
        assert neighbours(LADDER, "mid") == ("big", "tiny")
        assert neighbours(LADDER, "big") == ("mid", "tiny")


class TestNames:
    def test_budget_form(self):
        assert parse_model_name("router-mf-b2.5") == RouterModel("mf", None, budget=2.5)
        assert parse_model_name("router-mf-b2.5").name == "router-mf-b2.5"
        with pytest.raises(ModelNameError, match="budget in USD per 1,000 requests"):
            parse_model_name("router-mf-bx")


class LadderRouter(Router):
    """Scores that make 'mid' best for prompts starting with 'm', else the most expensive."""

    inline = True

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return 0.5

    def batch_model_scores(self, prompts, models):
        out = np.zeros((len(prompts), len(models)))
        for i, p in enumerate(prompts):
            out[i] = np.array([0, 2, 4][: len(models)]) if not p.startswith("m") else [0, 3, 1][: len(models)]
        return out


def _engine(calibration=None):
    ladder = LADDER
    return RoutingEngine({"lad": LadderRouter()}, ModelPair("big", "tiny"), ladder=ladder, calibration=calibration)


class TestEngine:
    def test_routes_among_three(self):
        engine = _engine()
        user = [{"role": "user", "content": "maths"}]
        d = engine.decide("router-lad-0.5", user)
        assert (d.model, d.fallbacks) == ("mid", ("big", "tiny"))
        assert d.win_rate == pytest.approx(1 / (1 + np.exp(-3.0)))  # the chosen model's predicted quality
        assert engine.decide("router-lad-0", [{"role": "user", "content": "x"}]).model == "big"
        assert engine.decide("router-lad-0.1", [{"role": "user", "content": "x"}]).model == "mid"
        assert engine.decide("router-lad-0.99", [{"role": "user", "content": "x"}]).model == "tiny"
        assert engine.decide("mid", user).model == "mid"  # any listed model by name
        assert engine.route("maths", "lad", 0.5) == "mid"

    def test_spend_names_need_a_calibration(self, tmp_path):
        engine = _engine()
        with pytest.raises(RequestError, match="has no N-model calibration"):
            engine.parse("router-lad-p40")
        pair = RoutingEngine({"lad": LadderRouter()}, ModelPair("big", "tiny"))
        with pytest.raises(RequestError, match="needs a models: list with prices"):
            pair.parse("router-lad-b2")

    def test_calibrated_spend_names(self, tmp_path):
        rng = np.random.default_rng(2)
        scores = rng.normal(size=(400, 3)) + [0, 0.5, 1.0]
        cost = np.tile([0.0001, 0.001, 0.01], (400, 1))
        rel = [0.01, 0.1, 1.0]
        entry = calibrate_scores(
            scores, cost, ["tiny", "mid", "big"], spend_shares=[0.4], budgets=[2.0], completion_tokens=256, relative_costs=rel
        )
        path = save_calibration(CalibrationFile(dataset="d", multi={"lad": entry}), tmp_path / "cal.json")
        loaded = load_calibration(path)
        engine = _engine(loaded)
        p40 = engine.parse("router-lad-p40")
        knob = entry.requested["p40"]
        assert p40.threshold == knob
        spend = cost[np.arange(400), choose_indices(scores, knob, rel)].mean()
        assert 0.3 * 0.01 < spend <= 0.4 * 0.01 + 1e-12
        # the next smaller knob of the grid spends more than the target (the knob is the tightest one)
        smaller = max(k for k in entry.knobs if k < knob)
        assert cost[np.arange(400), choose_indices(scores, smaller, rel)].mean() > 0.4 * 0.01
        assert engine.parse("router-lad-b2").threshold == entry.requested["b2"]
        assert engine.parse("router-lad-b5").threshold == entry.knob(usd_per_1k=5.0)
        other = ModelLadder(("tiny", "big"), (0.1, 10), (0.1, 30))
        engine2 = RoutingEngine({"lad": LadderRouter()}, ModelPair("big", "tiny"), ladder=other, calibration=loaded)
        with pytest.raises(RequestError, match="was calibrated for models tiny, mid, big"):
            engine2.parse("router-lad-p40")

    def test_knob_for(self):
        knobs = np.array([0.0, 0.5, 1.0])
        spends = np.array([10.0, 5.0, 1.0])
        assert knob_for(knobs, spends, 6) == 0.5
        assert knob_for(knobs, spends, 0.5) == 1.0


def test_two_model_routers_fall_back_to_the_ladder():
    class Fixed(Router):
        def calculate_strong_win_rate(self, prompt):
            return 0.8

    scores = Fixed().batch_model_scores(["a", "b"], ["c", "m", "e"])
    assert scores.shape == (2, 3)
    np.testing.assert_allclose(1 / (1 + np.exp(-scores[0])), [0.0, 0.4, 0.8], atol=1e-8)
    # knob 0: the most expensive model whenever w > 0; higher knobs step down the ladder
    assert decide(scores[0], 0.0, LADDER).model == "big"
    assert decide(scores[0], 0.35, LADDER).model == "mid"


def test_plain_python_path_matches_numpy():
    from routellm.multi_model import decide_row, model_scores, score_one

    ladder = ModelLadder(("a", "b", "c", "d"), (1, 2, 3, 4), (1, 2, 3, 4))
    rng = np.random.default_rng(5)
    for _ in range(300):
        row = rng.normal(size=4) * 3
        knob = float(rng.choice([0.0, 1.0, rng.uniform()]))
        fast, slow = decide_row(list(row), knob, ladder), decide(row, knob, ladder)
        assert (fast.model, fast.fallbacks) == (slow.model, slow.fallbacks)
        assert fast.quality == pytest.approx(slow.quality, rel=1e-12)

    class Fixed(Router):
        def calculate_strong_win_rate(self, prompt):
            return 0.3

    np.testing.assert_allclose(score_one(Fixed(), "p", ladder.names), model_scores(Fixed(), ["p"], ladder.names)[0])
    assert score_one(LadderRouter(), "maths", ("x", "y", "z")) == [0.0, 3.0, 1.0]


def test_example_config_loads(monkeypatch):
    from pathlib import Path

    from routellm.config import load_config

    monkeypatch.setenv("OPENAI_API_KEY", "sk-o")
    monkeypatch.setenv("TOGETHER_API_KEY", "sk-t")
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "routerbench-4-models.yaml")
    settings = resolve_settings(cfg.section("models"), cfg.section("server"), where=cfg.where)
    assert [u.name for u in settings.ladder] == ["mixtral-8x7b-chat", "yi-34b-chat", "gpt-3.5-turbo-1106", "gpt-4-1106-preview"]
    assert settings.upstreams["yi-34b-chat"].api_key.reveal() == "sk-t"


def test_fallback_fast_path_matches_the_ladder_scores():
    from routellm.multi_model import decide_fallback, ladder_scores

    ladder = ModelLadder(tuple("abcde"), (1, 2, 3, 5, 8), (1, 2, 4, 8, 16))
    rng = np.random.default_rng(6)
    for _ in range(300):
        w, knob = float(rng.uniform()), float(rng.choice([0.0, 1.0, rng.uniform()]))
        fast = decide_fallback(w, knob, ladder, ladder.relative_costs)
        slow = decide(ladder_scores(np.array([w]), 5)[0], knob, ladder)
        assert (fast.model, fast.fallbacks) == (slow.model, slow.fallbacks)
        assert fast.quality == pytest.approx(slow.quality, rel=1e-9, abs=1e-9)
