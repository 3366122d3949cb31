"""`routellm serve` as a user runs it: a subprocess, a config file, the openai client, a loopback upstream."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from pytest_routellm import openai_upstream


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "routellm.cli", "serve", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early:\n{proc.stdout.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not become healthy")


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_with_config_file(tmp_path: Path, workers: int):
    with openai_upstream() as strong_up, openai_upstream() as weak_up:
        config = tmp_path / "serve.yaml"
        config.write_text(
            f"""
routers:
  random: {{seed: 3}}
models:
  strong: {{name: big, base_url: "{strong_up.base_url}", api_key_env: E2E_STRONG_KEY}}
  weak: {{name: small, base_url: "{weak_up.base_url}", api_key: sk-e2e-weak, model: small-upstream}}
server:
  api_keys_env: E2E_CLIENT_KEYS
  retries: 1
  backoff: 0.01
"""
        )
        port = _free_port()
        proc = _serve(
            ["--config", str(config), "--routers", "random", "--port", str(port), "--workers", str(workers)],
            {"E2E_STRONG_KEY": "sk-e2e-strong", "E2E_CLIENT_KEYS": "client-key"},
        )
        try:
            _wait(port, proc)
            with openai.OpenAI(
                base_url=f"http://127.0.0.1:{port}/v1", api_key="client-key", max_retries=0
            ) as c:
                strong = c.chat.completions.create(
                    model="router-random-0", messages=[{"role": "user", "content": "a"}]
                )
                weak = c.chat.completions.create(
                    model="router-random-1", messages=[{"role": "user", "content": "b"}]
                )
                chunks = list(
                    c.chat.completions.create(
                        model="router-random-1", messages=[{"role": "user", "content": "c d"}], stream=True
                    )
                )
            # Any worker's /metrics shows every worker's requests (prometheus_client multiprocess mode;
            # each worker hands its counts over within a second).
            deadline = time.monotonic() + 5
            totals = []
            while time.monotonic() < deadline:
                metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
                totals.append(
                    sum(
                        float(line.split()[-1])
                        for line in metrics.splitlines()
                        if line.startswith("routellm_requests_total{") and 'status="200"' in line
                    )
                )
                if totals[-3:] == [3, 3, 3]:  # every worker's count is in, and stays
                    break
                time.sleep(0.3)
            assert totals[-3:] == [3, 3, 3], totals
            assert strong.model == "big" and weak.model == "small"  # the name clients see, not the upstream's
            assert all(x.model == "small" for x in chunks)
            assert "".join(x.choices[0].delta.content or "" for x in chunks if x.choices) == "echo: c d"
            assert strong_up.headers[0]["authorization"] == "Bearer sk-e2e-strong"
            assert weak_up.headers[0]["authorization"] == "Bearer sk-e2e-weak"
            assert [r["model"] for r in weak_up.requests] == ["small-upstream", "small-upstream"]
        finally:
            log = _stop(proc)
        assert "sk-e2e" not in log and "client-key" not in log
        assert "Traceback" not in log
        assert "model 'big' (strong) -> http://127.0.0.1" in log  # logged once, by the parent
        assert log.count("router 'random' ready") == workers  # each worker warms its routers up


def test_seed_flags_and_several_routers_after_one_option():
    with openai_upstream() as up:
        port = _free_port()
        proc = _serve(
            ["--routers", "random", "random", "--port", str(port), "--base-url", up.base_url,
             "--api-key", "sk-flag", "--strong-model", "s", "--weak-model", "w"],
            {},
        )  # fmt: skip
        try:
            _wait(port, proc)
            r = httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json={"model": "router-random-0", "messages": [{"role": "user", "content": "x"}]},
            )
            assert r.status_code == 200 and r.json()["model"] == "s"
            assert up.headers[0]["authorization"] == "Bearer sk-flag"
        finally:
            _stop(proc)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--routers", "nope"], "unknown router 'nope'"),
        (["--routers", "random", "--config", "/no/such.yaml"], "config file not found"),
    ],
)
def test_startup_errors_are_one_line(args, message):
    proc = subprocess.run(
        [sys.executable, "-m", "routellm.cli", "serve", *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serving_the_random_router_imports_no_torch():
    code = (
        "import sys; from routellm.server.app import ServeOptions, load_app; "
        "load_app(ServeOptions(routers=['random'])); "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_calibrate_then_serve_a_share_of_strong_calls(tmp_path: Path, battles_file: Path):
    """`routellm calibrate` writes the file the config names; `router-random-p30` then sends ~30% to the strong model."""
    with openai_upstream() as strong_up, openai_upstream() as weak_up:
        config = tmp_path / "serve.yaml"
        config.write_text(
            f"""
routers:
  random: {{seed: 9}}
models:
  strong: {{name: big, base_url: "{strong_up.base_url}", api_key: sk-s}}
  weak: {{name: small, base_url: "{weak_up.base_url}", api_key: sk-w}}
calibration:
  file: thresholds.json
"""
        )
        env = {**os.environ, "ROUTELLM_CACHE_DIR": str(tmp_path / "cache")}
        calibrated = subprocess.run(
            [sys.executable, "-m", "routellm.cli", "calibrate", "--routers", "random", "--strong-model-pct", "0.3",
             "--dataset", str(battles_file), "--config", str(config)],
            capture_output=True, text=True, env=env, timeout=120,
        )
        assert calibrated.returncode == 0, calibrated.stderr
        assert (tmp_path / "thresholds.json").is_file()
        port = _free_port()
        proc = _serve(["--config", str(config), "--routers", "random", "--port", str(port)], env)
        try:
            _wait(port, proc)
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="-")
            models = []
            for i in range(200):
                reply = client.chat.completions.with_raw_response.create(
                    model="router-random-p30", messages=[{"role": "user", "content": f"question number {i}"}]
                )
                models.append(reply.parse().model)
            threshold = float(reply.headers["x-routellm-threshold"])
            assert 0.0 < threshold < 1.0
            share = models.count("big") / len(models)
            assert 0.2 < share < 0.4, share
            with pytest.raises(openai.BadRequestError, match="percent of strong calls in \\[0, 100\\]"):
                client.chat.completions.create(model="router-random-p130", messages=[{"role": "user", "content": "x"}])
        finally:
            _stop(proc)
