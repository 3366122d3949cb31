"""The evaluator: win-rate caching keyed by router, config and data; averaging; reports."""

import json

import msgspec
import numpy as np
import pytest

from routellm.benchmark import BenchmarkData
from routellm.errors import ConfigError
from routellm.evaluation.evaluate import evaluate
from routellm.evaluation.report import markdown_table, to_jsonable, write_outputs
from routellm.evaluation.scoring import WinRateCache
from routellm.router import Router


class LengthRouter(Router):
    """Longer prompts score higher; counts how many prompts it scored."""

    scored = 0
    built = 0

    def __init__(self, config=None):
        super().__init__(config)
        type(self).built += 1

    class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
        scale: float = 100.0
        seed: int | None = None

    def calculate_strong_win_rate(self, prompt: str) -> float:
        type(self).scored += 1
        return min(1.0, len(prompt) / self.config.scale)


def factory(name):
    return LengthRouter


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    prompts = [("x" * int(n)) + str(i) for i, n in enumerate(rng.integers(1, 90, 200))]
    strong = (rng.random(200) < 0.8).astype(float)
    weak = (rng.random(200) < 0.5).astype(float)
    return BenchmarkData("toy", prompts, {"s": strong, "w": weak}, strong_model="s", weak_model="w")


@pytest.fixture
def cache(tmp_path):
    return WinRateCache(tmp_path / "winrates")


def test_win_rates_are_cached_per_router_config_and_data(data, cache):
    LengthRouter.scored = LengthRouter.built = 0
    first = evaluate(data, {"length": {}}, cache=cache, resolve=factory, progress=False)
    assert LengthRouter.scored == 200 and not first.routers[0].cached
    again = evaluate(data, {"length": {}}, cache=cache, resolve=factory, progress=False)
    assert LengthRouter.scored == 200 and again.routers[0].cached
    assert LengthRouter.built == 1, "a router whose win rates are cached is not built (no model loaded)"
    assert again.routers[0].curve == first.routers[0].curve
    # An unknown option is an error naming it, before anything is scored.
    with pytest.raises(ConfigError, match="unknown option 'scael'"):
        evaluate(data, {"length": {"scael": 1.0}}, cache=cache, resolve=factory, progress=False)
    # A changed config scores again and gives different win rates.
    changed = evaluate(data, {"length": {"scale": 50.0}}, cache=cache, resolve=factory, progress=False)
    assert LengthRouter.scored == 400 and not changed.routers[0].cached
    # Other prompts are other data.
    other = BenchmarkData("toy", [p + "?" for p in data.prompts], data.quality, "s", "w")
    evaluate(other, {"length": {}}, cache=cache, resolve=factory, progress=False)
    assert LengthRouter.scored == 600
    # --overwrite-cache scores again even when cached.
    evaluate(data, {"length": {}}, cache=cache, resolve=factory, overwrite=["length"], progress=False)
    assert LengthRouter.scored == 800
    assert len(list(cache.root.glob("*.npy"))) == 3
    meta = json.loads(next(cache.root.glob("*.json")).read_text())
    assert meta["router"] == "length" and meta["n"] == 200


def test_stale_or_corrupt_cache_entries_are_ignored(data, cache):
    LengthRouter.scored = 0
    evaluate(data, {"length": {}}, cache=cache, resolve=factory, progress=False)
    (path,) = cache.root.glob("*.npy")
    path.write_bytes(b"not numpy")
    evaluate(data, {"length": {}}, cache=cache, resolve=factory, progress=False)
    assert LengthRouter.scored == 400


def test_randomised_routers_are_averaged_over_seeds(data, cache):
    from routellm_router_random import RandomRouter

    def random_factory(name):
        return RandomRouter

    result = evaluate(data, {"random": {}}, cache=cache, resolve=random_factory, random_runs=4, progress=False)
    (row,) = result.routers
    assert row.runs == 4
    assert len(list(cache.root.glob("*.npy"))) == 4  # one cache entry per seed
    single = evaluate(data, {"random": {"seed": 0}}, cache=cache, resolve=random_factory, random_runs=1, progress=False)
    assert single.routers[0].curve != row.curve


def test_stochastic_is_a_class_flag_not_the_name_random(data, cache):
    from routellm_router_random import RandomRouter

    class Dice(RandomRouter):
        pass

    class NamedRandom(LengthRouter):
        pass

    assert RandomRouter.stochastic and not LengthRouter.stochastic
    classes = {"dice": Dice, "random": NamedRandom}
    result = evaluate(
        data, {"dice": {}, "random": {}}, cache=cache, resolve=classes.__getitem__, random_runs=3, progress=False
    )
    assert [r.runs for r in result.routers] == [3, 1]


def test_reports(data, cache, tmp_path):
    result = evaluate(data, {"length": {}}, cache=cache, resolve=factory, num_results=4, progress=False)
    assert [len(r.curve.strong_share) for r in (result.routers[0], result.optimal)] == [5, 5]
    table = markdown_table([result])
    assert "| toy | length |" in table and "| toy | optimal |" in table
    written = write_outputs(result, tmp_path / "out", fmt="csv", charts=False)
    assert sorted(p.name for p in written) == ["toy.md", "toy_curves.csv", "toy_metrics.csv"]
    import polars as pl

    curves = pl.read_csv(tmp_path / "out" / "toy_curves.csv")
    assert set(curves["router"]) == {"length", "optimal"} and curves.height == 10
    payload = to_jsonable(result)
    assert json.loads(json.dumps(payload))["routers"][0]["name"] == "length"


def test_empty_benchmark_is_a_clear_error(cache):
    empty = BenchmarkData("empty", [], {"s": np.array([]), "w": np.array([])}, "s", "w")
    with pytest.raises(ConfigError, match="no prompts"):
        evaluate(empty, {"length": {}}, cache=cache, resolve=factory, progress=False)
