"""The models: and server: sections, RouteLLM's flags, and keys kept secret."""

from __future__ import annotations

import pytest

from routellm.config import load_config, parse_config
from routellm.errors import ConfigError
from routellm.server.settings import Overrides, Secret, resolve_settings


def test_defaults_are_the_seeds_models(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    s = resolve_settings()
    assert (s.strong.name, s.weak.name) == ("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")
    assert s.strong.base_url == s.weak.base_url == "https://api.openai.com/v1"
    assert s.strong.api_key is None
    assert s.server.port == 6060 and s.server.routing_input == "last_user"


def test_openai_api_key_env_is_the_default_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    s = resolve_settings()
    assert s.strong.api_key == Secret("sk-env") and s.weak.api_key == Secret("sk-env")


def test_per_model_endpoints(monkeypatch):
    monkeypatch.setenv("WEAK_KEY", "sk-weak")
    s = resolve_settings(
        {
            "strong": {"name": "gpt-4o", "base_url": "https://a.example/v1", "api_key": "sk-strong"},
            "weak": {
                "name": "llama",
                "base_url": "http://b.example:8000/v1",
                "api_key_env": "WEAK_KEY",
                "model": "meta-llama/Llama-3.1-8B-Instruct",
            },
        },
        {"routing_input": "conversation", "fallback": True},
    )
    assert s.strong.chat_url == "https://a.example/v1/chat/completions"
    assert s.weak.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert s.weak.api_key.reveal() == "sk-weak"
    assert s.server.fallback is True and s.server.routing_input == "conversation"


def test_seed_flags_override_the_config():
    models = {"strong": {"name": "a", "base_url": "https://a.example/v1"}, "weak": "b"}
    s = resolve_settings(
        models,
        None,
        Overrides(
            strong_model="x",
            weak_model="y",
            base_url="http://s/v1",
            api_key="k1",
            alt_base_url="http://w/v1",
            alt_api_key="k2",
            port=7000,
        ),
    )
    assert (s.strong.name, s.strong.base_url, s.strong.api_key.reveal()) == ("x", "http://s/v1", "k1")
    assert (s.weak.name, s.weak.base_url, s.weak.api_key.reveal()) == ("y", "http://w/v1", "k2")
    assert s.server.port == 7000


@pytest.mark.parametrize(
    ("models", "server", "message"),
    [
        ({"strong": {"api_key_env": "NO_SUCH_ENV_XYZ"}}, None, "NO_SUCH_ENV_XYZ"),
        ({"strong": {"api_key": "a", "api_key_env": "B"}}, None, "either 'api_key' or 'api_key_env'"),
        ({"strong": {"base_url": "localhost:8000"}}, None, "must start with http"),
        ({"strong": "same", "weak": "same"}, None, "both 'same'"),
        ({"strong": {"nmae": "x"}}, None, "unknown option 'strong.nmae'"),
        (None, {"prot": 1}, "unknown option 'prot'"),
        (None, {"routing_input": "everything"}, "routing_input"),
        (None, {"api_keys_env": "NO_SUCH_ENV_XYZ"}, "NO_SUCH_ENV_XYZ"),
    ],
)
def test_errors_name_the_key(models, server, message):
    with pytest.raises(ConfigError, match=message):
        resolve_settings(models, server, where="serve.yaml")


def test_server_keys_from_env_are_secrets(monkeypatch):
    monkeypatch.setenv("CLIENT_KEYS", "k1, k2,")
    s = resolve_settings(None, {"api_keys": ["k0"], "api_keys_env": "CLIENT_KEYS"})
    assert [k.reveal() for k in s.server_api_keys] == ["k0", "k1", "k2"]
    assert "k0" not in repr(s) and "k1" not in repr(s)
    assert str(Secret("sk-x")) == repr(Secret("sk-x")) == "Secret('**********')"


def test_extended_config_without_routers_section():
    cfg = parse_config({"server": {"port": 1}, "models": {"strong": "a", "weak": "b"}})
    assert cfg.routers == {} and cfg.section("server") == {"port": 1}


def test_example_configs_load(monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-1")
    monkeypatch.setenv("TOGETHER_API_KEY", "sk-2")
    monkeypatch.setenv("ROUTELLM_API_KEYS", "client-1")
    cfg = load_config(root / "configs" / "serve.example.yaml")
    s = resolve_settings(cfg.section("models"), cfg.section("server"), where=cfg.where)
    assert s.strong.name == "gpt-4-1106-preview" and s.weak.name == "mixtral-8x7b-instruct-v0.1"
    assert s.strong.base_url != s.weak.base_url
    assert "random" in cfg.routers
    seed = load_config(root / "configs" / "config.example.yaml")
    assert "mf" in seed.routers and seed.section("server") is None
