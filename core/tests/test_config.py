from pathlib import Path

import pytest

from routellm.config import load_config, parse_config
from routellm.errors import ConfigError, UnknownNameError

ROOT = Path(__file__).resolve().parents[2]


def test_seed_config_loads_unchanged():
    cfg = load_config(ROOT / "configs" / "config.example.yaml")
    assert set(cfg.routers) == {"sw_ranking", "causal_llm", "bert", "mf"}
    assert cfg.router_section("mf")["hidden_size"] == 128
    assert cfg.router_section("random") == {}


def test_extended_format_keeps_other_sections():
    cfg = parse_config({"routers": {"random": {"seed": 1}}, "models": {"strong": {"base_url": "http://x"}}})
    assert cfg.router_section("random") == {"seed": 1}
    assert cfg.section("models") == {"strong": {"base_url": "http://x"}}


def test_unknown_top_level_section_lists_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown top-level section 'modles' \(valid sections: routers, models"):
        parse_config({"routers": {}, "modles": {}})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_bad_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("mf:\n  hidden_size: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: invalid YAML \(line \d+, column \d+\)"):
        load_config(path)


def test_router_section_must_be_a_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("random: 3\n")
    with pytest.raises(ConfigError, match="router 'random' must be a mapping"):
        load_config(path)


def test_unknown_option_names_file_router_and_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("random:\n  sed: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path).create_router("random")
    message = str(info.value)
    assert "c.yaml" in message and "router 'random'" in message and "'sed'" in message and "seed" in message


def test_wrong_type_names_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("random:\n  seed: abc\n")
    with pytest.raises(ConfigError, match=r"option 'seed': Expected `int \| null`, got `str`"):
        load_config(path).create_router("random")


def test_unknown_router_lists_choices():
    with pytest.raises(UnknownNameError, match="available: .*random"):
        parse_config({}).create_router("no_such_router")


@pytest.mark.parametrize("key", ["modles", "router", "Server", "calibraton", "benchmark"])
def test_a_misspelt_only_section_is_an_error_naming_it(key):
    with pytest.raises(ConfigError, match=rf"unknown top-level section '{key}' \(did you mean"):
        parse_config({key: {"strong": "gpt-4o"}})


def test_router_names_are_not_mistaken_for_sections():
    config = parse_config({"mf": {"checkpoint_path": "x"}, "sw_ranking": {}, "causal_llm": {}, "bert": {}, "random": {}})
    assert set(config.routers) == {"mf", "sw_ranking", "causal_llm", "bert", "random"}
