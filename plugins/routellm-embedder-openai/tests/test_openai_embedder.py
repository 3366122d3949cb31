"""The openai embedder against a real HTTP server on loopback speaking the /v1/embeddings protocol."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from routellm.errors import ConfigError
from routellm.registry import get_registry
from routellm_embedder_openai.embedder import EmbeddingAPIError

DIM = 8


def fake_vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255.0 - 0.5 for b in digest[:DIM]]


class Upstream:
    """Records requests; fails the first ``fail_first`` with ``fail_status``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.fail_first = 0
        self.fail_status = 429

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        self.requests.append(body)
        self.headers.append(dict(handler.headers))
        if handler.path != "/v1/embeddings":
            return self._send(handler, 404, {"error": {"message": f"no route {handler.path}"}})
        if handler.headers.get("Authorization") != "Bearer sk-test":
            return self._send(handler, 401, {"error": {"message": "Incorrect API key provided"}})
        if self.fail_first > 0:
            self.fail_first -= 1
            return self._send(handler, self.fail_status, {"error": {"message": "slow down"}}, retry_after="0")
        data = [{"object": "embedding", "index": i, "embedding": fake_vector(t)} for i, t in enumerate(body["input"])]
        data.reverse()  # the protocol orders by index, not position
        self._send(handler, 200, {"object": "list", "data": data, "model": body["model"]})

    @staticmethod
    def _send(handler, status, payload, retry_after=None):
        raw = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        if retry_after is not None:
            handler.send_header("Retry-After", retry_after)
        handler.end_headers()
        handler.wfile.write(raw)


@pytest.fixture
def upstream():
    state = Upstream()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            state.handle(self)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_port}/v1"
    yield state
    server.shutdown()
    server.server_close()


def make(upstream, **options):
    section = {"base_url": upstream.base_url, "api_key": "sk-test", "model": "tiny-embed", "dimensions": DIM}
    return get_registry().create_embedder("openai", {**section, **options})


def test_registered():
    assert get_registry().embedder("openai").distribution == "routellm-embedder-openai"


def test_batches_orders_and_normalises(upstream):
    embedder = make(upstream, batch_size=3)
    texts = [f"prompt number {i}" for i in range(7)] + [""]
    out = embedder.embed(texts)
    assert out.shape == (8, DIM)
    assert [len(r["input"]) for r in upstream.requests] == [3, 3, 2]
    assert all(r["model"] == "tiny-embed" and r["dimensions"] == DIM for r in upstream.requests)
    assert " " in sum((r["input"] for r in upstream.requests), [])  # the empty text, sent as a space
    expected = np.array(fake_vector("prompt number 4"), dtype=np.float32)
    np.testing.assert_allclose(out[4], expected / np.linalg.norm(expected), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    embedder.close()


def test_lru_cache_skips_repeated_prompts(upstream):
    embedder = make(upstream)
    embedder.embed(["a", "b"])
    embedder.embed(["b", "a", "a"])
    assert len(upstream.requests) == 1
    embedder.close()


def test_retries_rate_limits(upstream):
    upstream.fail_first = 2
    embedder = make(upstream)
    assert embedder.embed_one("hello").shape == (DIM,)
    assert len(upstream.requests) == 3
    embedder.close()


def test_gives_up_after_max_retries(upstream):
    upstream.fail_first, upstream.fail_status = 10, 503
    embedder = make(upstream, max_retries=1)
    with pytest.raises(EmbeddingAPIError, match="after 2 attempts: HTTP 503"):
        embedder.embed_one("hello")
    embedder.close()


def test_bad_key_is_not_retried_and_says_so(upstream):
    embedder = make(upstream, api_key="wrong")
    with pytest.raises(EmbeddingAPIError, match="401.*Incorrect API key.*check the API key"):
        embedder.embed_one("hello")
    assert len(upstream.requests) == 1
    embedder.close()


def test_key_from_environment(upstream, monkeypatch):
    monkeypatch.setenv("MY_EMBED_KEY", "sk-test")
    embedder = make(upstream, api_key=None, api_key_env="MY_EMBED_KEY")
    embedder.embed_one("hi")
    assert upstream.headers[0]["Authorization"] == "Bearer sk-test"
    embedder.close()


def test_unknown_model_dim_is_probed(upstream):
    embedder = make(upstream, dimensions=None)
    assert embedder.dim == DIM
    embedder.close()


def test_known_model_dim_needs_no_request():
    embedder = get_registry().create_embedder("openai", {"api_key": "x"})
    assert embedder.dim == 1536


def test_missing_key_for_openai_is_a_config_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    embedder = get_registry().create_embedder("openai", {})
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        embedder.embed_one("hi")


def test_unreachable_server_fails_after_retries(monkeypatch):
    import routellm_embedder_openai.embedder as module

    monkeypatch.setattr(module.time, "sleep", lambda seconds: None)
    embedder = get_registry().create_embedder(
        "openai", {"base_url": "http://127.0.0.1:9/v1", "api_key": "x", "dimensions": 4, "max_retries": 1}
    )
    with pytest.raises(EmbeddingAPIError, match="after 2 attempts: Connect"):
        embedder.embed_one("hi")
