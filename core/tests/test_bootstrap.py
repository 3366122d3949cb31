"""Bootstrap intervals: the vectorised replicate sweep equals the reported sweep; intervals reach the reports."""

import json
import math

import msgspec
import numpy as np
import pytest

from routellm.benchmark import BenchmarkData
from routellm.evaluation.bootstrap import (
    batch_metrics,
    bootstrap_intervals,
    replicate_curves,
    resample_indices,
)
from routellm.evaluation.evaluate import evaluate
from routellm.evaluation.metrics import compute_metrics, sweep
from routellm.evaluation.report import from_jsonable, markdown_table, metrics_rows, to_jsonable, write_outputs
from routellm.evaluation.scoring import WinRateCache
from routellm.router import Router


def toy(n, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    win = rng.integers(0, 7, n) / 7 if ties else rng.random(n)
    strong = (rng.random(n) < 0.4 + 0.4 * win).astype(float)
    weak = (rng.random(n) < 0.45).astype(float)
    return win, strong, weak


@pytest.mark.parametrize("ties", [False, True])
def test_replicates_redo_the_sweep_and_metrics_exactly(ties):
    win, strong, weak = toy(150, ties=ties)
    indices = resample_indices(150, 12, seed=4)
    shares, quality, lo, hi = replicate_curves(win, strong, weak, indices, 10)
    metrics = batch_metrics(shares, quality, lo, hi)
    for r, idx in enumerate(indices):
        curve = sweep(win[idx], strong[idx], weak[idx], 10)
        expected = compute_metrics(curve, weak[idx].mean(), strong[idx].mean())
        for key in ("apgr", "cpt20", "cpt50", "cpt80"):
            want, got = getattr(expected, key), metrics[key][r]
            assert (math.isnan(want) and math.isnan(got)) or got == pytest.approx(want, abs=1e-12), key


def test_interval_holds_the_estimate_and_narrows_with_more_prompts():
    widths = []
    for n in (80, 3000):
        win, strong, weak = toy(n, seed=1)
        estimate = compute_metrics(sweep(win, strong, weak), weak.mean(), strong.mean()).apgr
        iv = bootstrap_intervals([win], strong, weak, resample_indices(n, 300, seed=0), 10)
        assert iv.apgr[0] < estimate < iv.apgr[1]
        widths.append(iv.apgr[1] - iv.apgr[0])
    assert widths[1] < widths[0] / 3


def test_same_seed_same_interval_other_seed_differs():
    win, strong, weak = toy(200)
    a = bootstrap_intervals([win], strong, weak, resample_indices(200, 100, seed=0), 10)
    b = bootstrap_intervals([win], strong, weak, resample_indices(200, 100, seed=0), 10)
    c = bootstrap_intervals([win], strong, weak, resample_indices(200, 100, seed=1), 10)
    assert a == b and a.apgr != c.apgr


def test_random_router_sd_on_80_prompts_is_the_known_order():
    """A no-skill router's APGR on 80 prompts spreads by several hundredths (MT Bench: sd 0.063)."""
    rng = np.random.default_rng(2)
    strong = rng.integers(1, 11, 80).astype(float)
    weak = np.clip(strong - rng.integers(-2, 5, 80), 1, 10).astype(float)
    runs = [rng.random(80) for _ in range(20)]
    iv = bootstrap_intervals(runs, strong, weak, resample_indices(80, 1000), 10)
    assert 0.03 < iv.apgr_sd < 0.12
    assert iv.apgr[0] < 0.5 < iv.apgr[1]


class Len(Router):
    def calculate_strong_win_rate(self, prompt):
        return min(1.0, len(prompt) / 100)


@pytest.fixture
def data():
    win, strong, weak = toy(120, seed=3)
    prompts = ["x" * int(w * 99) + str(i) for i, w in enumerate(win)]
    return BenchmarkData("toy", prompts, {"s": strong, "w": weak}, strong_model="s", weak_model="w")


def test_evaluate_reports_intervals_in_table_json_and_chart_data(data, tmp_path):
    cache = WinRateCache(tmp_path / "c")
    result = evaluate(data, {"len": {}}, cache=cache, resolve=lambda n: Len, bootstrap=200, progress=False)
    iv = result.routers[0].intervals
    assert iv.resamples == 200 and len(iv.quality_low) == len(result.routers[0].curve.quality)
    assert all(lo <= hi for lo, hi in zip(iv.quality_low, iv.quality_high, strict=True))
    assert result.optimal.intervals is None
    table = markdown_table([result])
    assert f"{result.routers[0].metrics.apgr:.3f} [{iv.apgr[0]:.3f}, {iv.apgr[1]:.3f}]" in table
    assert "95% bootstrap interval over 200 resamples" in table
    row = metrics_rows(result)[0]
    assert (row["apgr_low"], row["apgr_high"]) == tuple(iv.apgr)
    back = from_jsonable(json.loads(json.dumps(to_jsonable(result))))
    assert back.routers[0].intervals.apgr == iv.apgr
    written = write_outputs(result, tmp_path / "out", fmt="csv", charts=False)
    import polars as pl

    curves = pl.read_csv(next(p for p in written if p.name == "toy_curves.csv"))
    assert curves.filter(pl.col("router") == "len")["quality_low"].null_count() == 0


def test_bootstrap_off(data, tmp_path):
    result = evaluate(data, {"len": {}}, cache=WinRateCache(tmp_path), resolve=lambda n: Len, bootstrap=0, progress=False)
    assert result.routers[0].intervals is None
    assert "[" not in markdown_table([result]).split("\n")[2]
    assert msgspec.json.encode(to_jsonable(result))
