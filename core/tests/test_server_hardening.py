"""Server hardening (issue 14): every failure an OpenAI-shaped answer, nothing one request can stall,
ready when it says so. Each test is the regression test of one item."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import random
import re
import shlex
import socket
import subprocess
import sys
import threading
import time

import httpx
import msgspec
import pytest

from pytest_routellm import SlowUpstream, openai_upstream, raw_upstream, routing_server, serve_in_thread
from routellm.errors import ConfigError
from routellm.model_names import MAX_NAME_LENGTH, ModelNameError, parse_model_name
from routellm.server.settings import Overrides, resolve_settings

STRONG = "gpt-4-1106-preview"
WEAK = "mixtral-8x7b-instruct-v0.1"
MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def upstream():
    with openai_upstream() as up:
        yield up


@pytest.fixture(autouse=True)
def _fresh(upstream):
    upstream.reset()
    yield
    upstream.reset()


@pytest.fixture(scope="module")
def server(upstream):
    with routing_server(upstream.base_url, server={"retries": 0, "request_timeout": 0.5}) as (url, app):
        yield url.removesuffix("/v1"), app


def post(base: str, body: object | bytes, **kw) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{base}/v1/chat/completions", content=content, **{"timeout": 10, **kw})


def count(base: str, status: str, router: str = "-", model: str = "-") -> float:
    """``routellm_requests_total`` for one label set (0 when absent)."""
    text = httpx.get(f"{base}/metrics").text
    pattern = rf'routellm_requests_total{{model="{re.escape(model)}",router="{router}",status="{status}"}} (\S+)'
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def assert_openai_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return error


# --- 1. model names: linear time, length cap ------------------------------------------------------

_OLD = re.compile(r"-(p?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)$")


def _old_parse(name: str):
    """RouteLLM 0.2.0-era parse (quadratic regex), as the reference on short names."""
    rest = name[len("router-") :]
    number = _OLD.search(rest)
    if number:
        return rest[: number.start()], number.group(1)
    router, _, raw = rest.rpartition("-")
    return router, raw


def test_linear_parse_agrees_with_the_old_regex_on_short_names():
    rng = random.Random(0)
    alphabet = "ab_-0123456789.eEp+"
    names = ["router-mf-0.5", "router-causal_llm-1e-05", "router-x-p12.5", "router-a-b-1E-3", "router-x-.5"]
    names += ["router-" + "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    for name in names:
        router, raw = _old_parse(name)
        try:
            parsed = parse_model_name(name)
        except ModelNameError:
            continue  # the new parser may reject more (never accept differently): checked below
        assert parsed.router == router, name
    for name in names[:5]:
        parse_model_name(name)


def test_a_long_model_name_is_refused_by_length_before_parsing():
    with pytest.raises(ModelNameError, match=f"longer than {MAX_NAME_LENGTH} characters"):
        parse_model_name("router-x-" + "1" * 16_000 + "x")


def test_a_1mb_model_name_is_rejected_fast_while_health_stays_responsive(server):
    base, _ = server
    name = "router-x-" + "1" * (1 << 20) + "x"
    body = json.dumps({"model": name, "messages": MESSAGES}).encode()

    async def race() -> tuple[float, list[int]]:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            healths: list[int] = []

            async def poll() -> None:
                for _ in range(20):
                    healths.append((await client.get("/health")).status_code)

            poller = asyncio.create_task(poll())
            best = float("inf")
            for _ in range(3):  # best of three: the machine is shared
                start = time.perf_counter()
                r = await client.post("/v1/chat/completions", content=body)
                best = min(best, time.perf_counter() - start)
                error = assert_openai_error(r, 400)
                assert error["param"] == "model" and len(error["message"]) < 1000
            await poller
            return best, healths

    best, healths = asyncio.run(race())
    assert best < 0.05, f"1 MB model name took {best * 1000:.1f} ms"
    assert healths == [200] * 20


# --- 2. every failure OpenAI-shaped, 4xx or 502, counted -------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"model": "router-random-0.5", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
         "content[0].text must be a string"),
        (b'{"model": "router-random-0.5", "messages": [{"role": "user", "content": "\xff\xfe"}]}', "not UTF-8"),
        (b'{"model": "router-random-0.5", "messages": ' + b"[" * 2000 + b"]" * 2000 + b"}", "nested too deeply"),
        ({"model": STRONG, "messages": []}, "non-empty list"),
        ({"model": WEAK, "messages": [{"content": "no role"}]}, "string 'role'"),
        ({"model": STRONG, "messages": "hi"}, "non-empty list"),
    ],
)  # fmt: skip
def test_bad_requests_are_openai_shaped_400s_and_counted(server, upstream, body, needle):
    base, _ = server
    before = count(base, "400")
    error = assert_openai_error(post(base, body), 400)
    assert needle in error["message"]
    assert count(base, "400") == before + 1
    assert upstream.requests == []  # direct model names are checked too: nothing was forwarded


def _http(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n{head}connection: close\r\n\r\n".encode() + body


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\nnot http at all\r\n", "upstream"),
        (_http(b'{"id": "x", "choices": []}', "content-type: application/json", "content-encoding: gzip"), "upstream"),
        (_http(b"<html>gateway says hi</html>", "content-type: application/json"), "upstream_invalid_response"),
        (_http(gzip.compress(b"x" * 5000), "content-type: application/json"), "upstream_invalid_response"),
    ],
    ids=["not-http", "gzip-claimed-on-plain-body", "200-not-json", "200-binary"],
)  # fmt: skip
def test_broken_upstream_answers_are_openai_shaped_502s_and_counted(answer, code, transport):
    with raw_upstream(answer) as url, routing_server(url, server={"retries": 0, "http_transport": transport}) as (
        base,
        _,
    ):
        base = base.removesuffix("/v1")
        error = assert_openai_error(post(base, {"model": "router-random-0", "messages": MESSAGES}), 502)
        assert error["code"].startswith(code)
        assert count(base, "502", router="random", model=STRONG) == 1


def test_upstream_json_with_an_odd_usage_is_relayed_not_a_502():
    """A 200 that is JSON but whose ``usage`` is not OpenAI's shape is the upstream's answer: relay it."""
    body = b'{"id": "x", "object": "chat.completion", "choices": [], "usage": "lots"}'
    with raw_upstream(_http(body, "content-type: application/json")) as url, routing_server(
        url, server={"retries": 0}
    ) as (base, _):
        base = base.removesuffix("/v1")
        reply = post(base, {"model": "router-random-0", "messages": MESSAGES})
        assert reply.status_code == 200 and reply.json()["usage"] == "lots"
        assert count(base, "200", router="random", model=STRONG) == 1


def test_unexpected_errors_are_openai_shaped_500s_and_counted(upstream, caplog):
    with routing_server(upstream.base_url) as (base, app):
        base = base.removesuffix("/v1")

        async def boom(*_):
            raise RuntimeError("a bug")

        app.state.routellm.engine.adecide = boom
        caplog.set_level(logging.ERROR)
        error = assert_openai_error(post(base, {"model": "router-random-0", "messages": MESSAGES}), 500)
        assert error["type"] == "server_error" and "a bug" not in error["message"]
        assert count(base, "500") == 1
    assert caplog.text.count("Traceback") == 1


def test_litestar_errors_on_the_chat_path_are_counted(upstream):
    with routing_server(upstream.base_url, server={"max_body_bytes": 100}) as (base, _):
        base = base.removesuffix("/v1")
        assert_openai_error(post(base, {"model": "router-random-0", "messages": MESSAGES * 20}), 413)
        assert count(base, "413") == 1


# --- 3. a non-streaming client that goes away cancels the upstream call ---------------------------


def test_client_disconnect_cancels_the_upstream_call():
    slow = SlowUpstream(delay=3.0)
    with serve_in_thread(slow) as up, routing_server(f"{up}/v1", server={"retries": 0}) as (base, _):
        base = base.removesuffix("/v1")
        for _ in range(3):
            with pytest.raises(httpx.ReadTimeout):
                post(base, {"model": "router-random-0", "messages": MESSAGES}, timeout=0.3)
        deadline = time.monotonic() + 3
        while slow.abandoned < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (slow.abandoned, slow.finished) == (3, 0)
        assert count(base, "499") == 3
        assert count(base, "200", router="random", model=STRONG) == 0
        assert f'routellm_client_disconnects_total{{model="{STRONG}"}} 3.0' in httpx.get(f"{base}/metrics").text


# --- 4. config values are range-checked, one line each ---------------------------------------------


@pytest.mark.parametrize(
    ("server", "needle"),
    [
        ({"timeouts": {"read": -1}}, "timeouts.read"),
        ({"max_body_bytes": -5}, "max_body_bytes"),
        ({"api_keys": ["", " "]}, "server.api_keys[0] is blank"),
        ({"api_keys": ["ok", " x"]}, "server.api_keys[1]"),
        ({"port": 99999}, "port"),
        ({"router_threads": 0}, "router_threads"),
        ({"request_timeout": 0}, "request_timeout"),
        ({"max_response_bytes": 0}, "max_response_bytes"),
        ({"retries": -1}, "retries"),
        ({"listed_thresholds": [1.5]}, "listed_thresholds"),
    ],
)
def test_config_values_are_range_checked(server, needle):
    with pytest.raises(ConfigError) as info:
        resolve_settings({}, server, where="c.yaml")
    message = str(info.value)
    assert needle in message and message.startswith("c.yaml") and "\n" not in message


def test_flags_are_range_checked_too():
    with pytest.raises(ConfigError, match="port"):
        resolve_settings({}, {}, Overrides(port=99999))
    with pytest.raises(ConfigError, match="workers"):
        resolve_settings({}, {}, Overrides(workers=0))


def test_a_config_that_is_not_utf8_is_one_line(tmp_path):
    from routellm.config import load_config

    path = tmp_path / "c.yaml"
    path.write_bytes(b"server:\n  port: 6060 # \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        load_config(path)
    assert "\n" not in str(info.value)


# --- 5. incoming request deadline, upstream answer size cap ----------------------------------------


def _send_raw(base: str, data: bytes, wait: float) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_half_sent_headers_and_bodies_time_out_with_408(server):
    base, _ = server
    start = time.monotonic()
    answer = _send_raw(base, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-le", wait=5)
    assert answer.startswith(b"HTTP/1.1 408") and b'"error"' in answer
    answer = _send_raw(
        base,
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: 100\r\n\r\n{\"model\":",
        wait=5,
    )
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer
    assert time.monotonic() - start < 4  # closed by the server (0.5 s each), not by the client's 5 s
    assert count(base, "408") >= 1


def test_upstream_answers_over_the_cap_are_502(upstream):
    with routing_server(upstream.base_url, server={"max_response_bytes": 120, "retries": 0}) as (base, _):
        base = base.removesuffix("/v1")
        error = assert_openai_error(post(base, {"model": "router-random-0", "messages": MESSAGES * 3}), 502)
        assert error["code"] == "upstream_too_large" and "max_response_bytes" in error["message"]
        body = {"model": "router-random-0", "messages": [{"role": "user", "content": "word " * 200}], "stream": True}
        with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=10) as r:
            text = r.read().decode()
        assert r.status_code == 200 and "max_response_bytes" in text and text.count("data:") < 20


# --- 7. --api-key is never handed to workers through the environment -------------------------------


def test_api_key_flag_with_workers_is_refused():
    proc = subprocess.run(
        [sys.executable, "-m", "routellm.cli", "serve", "--routers", "random", "--workers", "2",
         "--api-key", "sk-secret-flag", "--port", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "api_key_env" in proc.stderr and "Traceback" not in proc.stderr
    assert "sk-secret-flag" not in proc.stderr


# --- 8. OpenAPI schema ---------------------------------------------------------------------------


def test_openapi_schema_is_served_from_the_structs(server):
    base, _ = server
    doc = httpx.get(f"{base}/schema/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {"/v1/chat/completions", "/v1/models", "/health", "/metrics"}
    request = doc["components"]["schemas"]["ChatCompletionRequest"]
    assert set(request["required"]) == {"model", "messages"}
    listed, pattern = request["properties"]["model"]["anyOf"]
    assert listed["enum"] == ["router-random-0.5", STRONG, WEAK] and pattern["maxLength"] == MAX_NAME_LENGTH
    assert re.match(pattern["pattern"], "router-mf-p12.5") and re.match(pattern["pattern"], "router-x-1e-05")
    chat = doc["paths"]["/v1/chat/completions"]["post"]
    assert {"200", "400", "502"} <= set(chat["responses"])


# --- readiness, fallbacks, metrics across workers, calibration hints -------------------------------


def test_health_is_503_until_every_router_is_warm(upstream, caplog):
    from routellm.engine import RoutingEngine
    from routellm.routing import ModelPair
    from routellm.server.app import create_app
    from routellm_router_random import RandomRouter

    release = threading.Event()

    class SlowToWarm(RandomRouter):
        inline = False

        def calculate_strong_win_rate(self, prompt: str) -> float:
            release.wait(10)
            return super().calculate_strong_win_rate(prompt)

    settings = resolve_settings({"strong": {"name": STRONG, "base_url": upstream.base_url}, "weak": WEAK})
    engine = RoutingEngine({"slow": SlowToWarm(), "random": RandomRouter()}, ModelPair(STRONG, WEAK))
    caplog.set_level(logging.INFO, logger="routellm.server")
    with serve_in_thread(create_app(settings, engine)) as base:
        r = httpx.get(f"{base}/health")
        assert r.status_code == 503 and r.json()["status"] == "warming_up" and r.json()["warming_up"] == ["slow"]
        release.set()
        deadline = time.monotonic() + 5
        while httpx.get(f"{base}/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert httpx.get(f"{base}/health").json()["status"] == "ok"
    assert "router 'slow' ready" in caplog.text and "router 'random' ready" in caplog.text


def test_fallbacks_are_logged_once_per_reason_and_counted(upstream, caplog):
    caplog.set_level(logging.WARNING, logger="routellm.server")
    with routing_server(upstream.base_url, server={"fallback": True, "retries": 0}) as (base, _):
        base = base.removesuffix("/v1")
        upstream.fail(503, times=3, model=STRONG)
        for _ in range(3):
            assert post(base, {"model": "router-random-0", "messages": MESSAGES}).json()["model"] == WEAK
        text = httpx.get(f"{base}/metrics").text
    assert f'routellm_fallbacks_total{{from_model="{STRONG}",reason="status",to_model="{WEAK}"}} 3.0' in text
    lines = [r.getMessage() for r in caplog.records if "falling back" in r.getMessage()]
    assert lines == [f"falling back from model '{STRONG}' to '{WEAK}': status (status 503); logged once, "
                     "counted in routellm_fallbacks_total"]  # fmt: skip


def test_startup_names_the_upstream_of_each_model():
    from routellm.server.app import describe_upstreams

    settings = resolve_settings(
        {"strong": {"name": "big", "base_url": "http://user:pw@gpu:8000/v1", "api_key": "sk-x", "model": "v/big"},
         "weak": {"name": "small", "base_url": "http://localhost:11434/v1"}},
    )  # fmt: skip
    lines = describe_upstreams(settings)
    assert lines[0] == "model 'big' (strong) -> http://gpu:8000/v1 as 'v/big', with an API key"
    assert lines[1] == "model 'small' (weak) -> http://localhost:11434/v1, without an API key"
    assert "pw" not in " ".join(lines) and "sk-x" not in " ".join(lines)


def test_metrics_add_up_across_worker_processes(tmp_path):
    code = (
        "from routellm.server.metrics import ServerMetrics\n"
        "m = ServerMetrics()\n"
        "m.requests.inc('random', 'big', '200', amount=3)\n"
        "m.routing_seconds.observe(0.001, 'random')\n"
        "m.flush()\n"
    )
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": ""}
    for _ in range(2):  # two "workers"
        subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
    render = "from routellm.server.metrics import ServerMetrics; print(ServerMetrics().render().decode())"
    out = subprocess.run([sys.executable, "-c", render], check=True, env=env, capture_output=True, text=True).stdout
    assert 'routellm_requests_total{model="big",router="random",status="200"} 6.0' in out
    assert 'routellm_routing_seconds_count{router="random"} 2.0' in out


def test_recalibrate_warning_ignores_non_scoring_options_and_prints_a_command_that_runs(
    tmp_path, battles_file, caplog
):
    import polars as pl

    from routellm.config import load_config
    from routellm.engine import RoutingEngine
    from routellm.routing import ModelPair

    small = tmp_path / "battles.parquet"  # 60 battles: enough to calibrate, fast to score
    pl.read_parquet(battles_file).head(60).write_parquet(small)
    config = tmp_path / "c.yaml"
    config.write_text("routers:\n  random: {seed: 1}\ncalibration:\n  file: cal.json\n")
    env = {**__import__("os").environ}
    subprocess.run(
        [sys.executable, "-m", "routellm.cli", "calibrate", "--routers", "random", "--dataset", str(small),
         "--config", str(config)],
        check=True, capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    pair = ModelPair(STRONG, WEAK)
    caplog.set_level(logging.WARNING)
    RoutingEngine.from_config(["random"], load_config(config), pair).close()
    assert "changed since it was calibrated" not in caplog.text
    config.write_text("routers:\n  random: {seed: 2}\ncalibration:\n  file: cal.json\n")
    RoutingEngine.from_config(["random"], load_config(config), pair, warn=False).close()  # a --workers process
    assert "changed since it was calibrated" not in caplog.text
    RoutingEngine.from_config(["random"], load_config(config), pair).close()
    warning = caplog.text
    assert warning.count("changed since it was calibrated") == 1
    command = shlex.split(warning.split("recalibrate with: ")[1].strip().splitlines()[0])
    assert command[:2] == ["routellm", "calibrate"] and str(small) in command
    ran = subprocess.run([sys.executable, "-m", "routellm.cli", *command[1:]], capture_output=True, text=True, env=env)
    assert ran.returncode == 0, ran.stderr
    caplog.clear()
    RoutingEngine.from_config(["random"], load_config(config), pair).close()
    assert "changed since it was calibrated" not in caplog.text


def test_non_scoring_options_leave_the_calibration_current():
    from routellm.calibration import fingerprint_sha256

    def fp(config: dict) -> str:
        return fingerprint_sha256({"router": "mf", "class": "x", "version": "1", "config": json.dumps(config)})

    base = {"checkpoint_path": "a", "embedder": {"model": "m", "num_threads": 4, "device": "cpu"}}
    assert fp(base) == fp({**base, "embedder": {"model": "m", "num_threads": 1, "device": "cuda"}})
    assert fp(base) != fp({**base, "embedder": {"model": "other", "num_threads": 4, "device": "cpu"}})


def test_uncalibrated_share_names_print_the_full_command(upstream, tmp_path):
    from routellm.config import parse_config
    from routellm.engine import RequestError, RoutingEngine
    from routellm.routing import ModelPair

    cfg = parse_config({"routers": {}}, tmp_path / "serve.yaml")
    engine = RoutingEngine.from_config(["random"], cfg, ModelPair(STRONG, WEAK))
    with pytest.raises(RequestError) as info:
        engine.parse("router-random-p20")
    command = shlex.split(str(info.value).split("`")[1])
    assert command[:4] == ["routellm", "calibrate", "--routers", "random"]
    assert "--dataset" in command and command[command.index("--config") + 1] == str(tmp_path / "serve.yaml")


def test_settings_struct_round_trips():
    # The options the CLI hands to workers survive msgspec (no secrets inside: checked by the CLI test).
    settings = resolve_settings({}, {"request_timeout": 5, "max_response_bytes": 1000})
    assert msgspec.to_builtins(settings.server)["request_timeout"] == 5


def test_bytes_that_are_not_http_get_an_openai_shaped_400(server):
    base, _ = server
    answer = _send_raw(base, b"GARBAGE\x00\x01 / HTTP/9\r\n\r\n", wait=5)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and json.loads(body)["error"]["type"] == "invalid_request_error"


def test_buffered_metrics_render_exactly_what_prometheus_client_would():
    import prometheus_client

    from routellm.server.metrics import ServerMetrics

    metrics = ServerMetrics()
    values = [0.0, 1e-5, 1e-5 * 1.0001, 0.003, 0.5, 100.0]
    registry = prometheus_client.CollectorRegistry()
    reference = prometheus_client.Histogram("x", "x", ["router"], registry=registry, buckets=metrics.routing_seconds.bounds)
    for value in values:
        metrics.routing_seconds.observe(value, "r")
        reference.labels("r").observe(value)
    mine = [line for line in metrics.render().decode().splitlines() if line.startswith("routellm_routing_seconds_")]
    theirs = prometheus_client.generate_latest(registry).decode().splitlines()
    assert mine == [line.replace("x_", "routellm_routing_seconds_", 1) for line in theirs if line.startswith("x_")]
    metrics.requests.inc("r", "m", "200", amount=2)
    metrics.requests.inc("r", "m", "200")
    assert 'routellm_requests_total{model="m",router="r",status="200"} 3.0' in metrics.render().decode()
