import numpy as np
import pytest

from routellm.calibration import (
    CalibrationFile,
    calibrate_router,
    calibration_path,
    load_calibration,
    merge,
    resolve_threshold,
    save_calibration,
)
from routellm.config import parse_config
from routellm.errors import ConfigError
from routellm.model_names import parse_model_name


def test_model_name_syntax():
    assert parse_model_name("router-mf-0.11593").threshold == pytest.approx(0.11593)
    assert parse_model_name("router-mf-p20").strong_share == pytest.approx(0.2)
    assert parse_model_name("router-sw_ranking-p12.5").router == "sw_ranking"
    assert parse_model_name("router-causal_llm-1e-05").threshold == pytest.approx(1e-5)
    for bad in ("gpt-4", "router-mf", "router-mf-p", "router-mf-p120", "router-mf-1.5", "router--0.1"):
        with pytest.raises(ValueError):
            parse_model_name(bad)


def test_threshold_is_the_seed_quantile():
    rates = np.random.default_rng(0).random(10_000)
    entry = calibrate_router(rates, [0.2], config_sha256="x", config="{}")
    assert entry.threshold(0.2) == pytest.approx(np.quantile(rates, 0.8))
    assert (rates >= entry.threshold(0.2)).mean() == pytest.approx(0.2, abs=1e-3)
    # Shares not asked for come from the grid.
    assert entry.threshold(0.37) == pytest.approx(np.quantile(rates, 0.63), abs=2e-3)
    assert entry.threshold(0.0) == pytest.approx(rates.max())
    assert entry.threshold(1.0) == pytest.approx(rates.min())
    with pytest.raises(ValueError):
        entry.threshold(1.2)


def test_resolve_and_round_trip(tmp_path):
    rates = np.linspace(0, 1, 101)
    calib = CalibrationFile(dataset="d", routers={"mf": calibrate_router(rates, [0.5], config_sha256="x", config="{}")})
    path = save_calibration(calib, tmp_path / "c.json")
    loaded = load_calibration(path)
    assert resolve_threshold("router-mf-p50", loaded) == ("mf", pytest.approx(0.5))
    assert resolve_threshold("router-mf-0.3", None) == ("mf", 0.3)
    with pytest.raises(ConfigError, match="no calibration file"):
        resolve_threshold("router-mf-p50", None)
    with pytest.raises(ConfigError, match="routellm calibrate --routers bert"):
        resolve_threshold("router-bert-p50", loaded)


def test_merge_keeps_other_routers_of_the_same_dataset():
    a = calibrate_router(np.arange(5.0), [0.2], config_sha256="a", config="{}")
    b = calibrate_router(np.arange(5.0), [0.2], config_sha256="b", config="{}")
    merged = merge(CalibrationFile(dataset="d", routers={"mf": a}), "d", {"bert": b})
    assert set(merged.routers) == {"mf", "bert"}
    assert set(merge(merged, "other", {"bert": b}).routers) == {"bert"}


def test_config_section_points_to_the_file(tmp_path):
    cfg = parse_config({"routers": {}, "calibration": {"file": "cal.json"}}, tmp_path / "config.yaml")
    assert calibration_path(cfg) == tmp_path / "cal.json"
    assert calibration_path(parse_config({"routers": {}})).name == "thresholds.json"
    with pytest.raises(ConfigError, match="calibration.*unknown option 'path'"):
        calibration_path(parse_config({"routers": {}, "calibration": {"path": "x"}}))


def test_missing_or_bad_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="routellm calibrate"):
        load_calibration(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="not a routellm calibration file"):
        load_calibration(tmp_path / "bad.json")


def test_calibration_remembers_the_router_config():
    from routellm.calibration import fingerprint_sha256
    from routellm.evaluation.scoring import RouterRecipe
    from routellm.registry import get_registry

    recipe = RouterRecipe.from_registry("random", {"seed": 1})
    entry = calibrate_router(np.arange(10.0), [0.2], config_sha256=fingerprint_sha256(recipe.fingerprint), config="{}")
    assert entry.is_current(get_registry().create_router("random", {"seed": 1}), "random")
    assert not entry.is_current(get_registry().create_router("random", {"seed": 2}), "random")
