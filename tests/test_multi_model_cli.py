"""`routellm eval` on routerbench (N-model report) and `routellm calibrate` for a models: list, end to end."""

import json

import numpy as np
from typer.testing import CliRunner

from routellm.calibration import load_calibration
from routellm.cli import build_app
from routellm.config import load_config
from routellm.engine import RoutingEngine
from routellm.multi_model import ModelLadder
from routellm.routing import ModelPair
from routellm.server.settings import resolve_settings


def run_cli(*args):
    return CliRunner().invoke(build_app(), list(args), catch_exceptions=False)


def test_eval_routerbench_adds_the_quality_vs_cost_report(shared_data, tmp_path):
    out = tmp_path / "out"
    result = run_cli(
        "eval", "--routers", "random", "--benchmark", "routerbench", "--data-dir", str(shared_data),
        "--output", str(out), "--random-runs", "2", "--models", "gpt-4-1106-preview,mistralai/mixtral-8x7b-chat",
        "--models", "zero-one-ai/Yi-34B-Chat",
    )
    assert result.exit_code == 0, result.output
    assert "| single-model hull |" in result.output and "| random |" in result.output
    for name in ("routerbench.json", "routerbench_models.json", "routerbench_models.md", "routerbench_models.png"):
        assert (out / name).stat().st_size > 0
    report = json.loads((out / "routerbench_models.json").read_text())
    assert report["models"] == ["mistralai/mixtral-8x7b-chat", "zero-one-ai/Yi-34B-Chat", "gpt-4-1106-preview"]
    singles = {p["label"]: p for p in report["singles"]}
    assert round(singles["gpt-4-1106-preview"]["quality"], 3) == 0.879
    assert 0 < report["routers"][0]["aiq"] < report["hull_aiq"] + 0.02


def test_calibrate_a_models_list_then_route_by_budget(battles_file, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        "routers:\n  random: {seed: 0}\n"
        "models:\n"
        "  - {name: big, base_url: 'http://127.0.0.1:9/v1', api_key: k, price: {input: 10, output: 30}}\n"
        "  - {name: mid, base_url: 'http://127.0.0.1:9/v1', api_key: k, price: {input: 1, output: 2}}\n"
        "  - {name: tiny, base_url: 'http://127.0.0.1:9/v1', api_key: k, price: {input: 0.1, output: 0.1}}\n"
        "calibration: {file: calibration.json}\n"
    )
    result = run_cli(
        "calibrate", "--routers", "random", "--dataset", str(battles_file), "--config", str(config),
        "--spend-share", "0.4", "--usd-per-1k", "1",
    )
    assert result.exit_code == 0, result.output
    assert "models, cheapest first: tiny, mid, big" in result.output
    assert '"router-random-p40"' in result.output and '"router-random-b1"' in result.output
    calibration = load_calibration(tmp_path / "calibration.json")
    entry = calibration.multi["random"]
    assert entry.models == ["tiny", "mid", "big"] and entry.num_prompts == 805
    assert np.all(np.diff(entry.spend_share) <= 1e-12)  # spend falls as the knob rises
    cfg = load_config(config)
    settings = resolve_settings(cfg.section("models"), where=cfg.where)
    engine = RoutingEngine.from_config(["random"], cfg, ModelPair("big", "tiny"), ladder=ModelLadder.from_settings(settings))
    assert engine.parse("router-random-p40").threshold == entry.requested["p40"]
    assert engine.parse("router-random-b1").threshold == entry.requested["b1"]
    # about 40% of always-big spend on the calibration prompts
    share = np.interp(entry.requested["p40"], entry.knobs, entry.spend_share)
    assert 0.3 < share <= 0.4 + 1e-9


def test_route_prints_each_models_score(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "routers: {random: {seed: 1}}\nmodels:\n"
        "  - {name: big, api_key_env: UNSET_KEY_FOR_ROUTE, price: {input: 10, output: 30}}\n"
        "  - {name: tiny, api_key: k, price: {input: 0.1, output: 0.1}}\n"
        "  - {name: mid, api_key: k, price: {input: 1, output: 2}}\n"
    )  # routing one prompt reads no key
    result = run_cli("route", "hello", "--router", "random", "--threshold", "0", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["model"] == "big" and list(payload["scores"]) == ["tiny", "mid", "big"]
