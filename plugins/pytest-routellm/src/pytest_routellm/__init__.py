"""Test helpers for routellm plugins: contract test classes every router and benchmark plugin subclasses,
a fake OpenAI-compatible upstream, and servers on loopback. The fixtures (``fake_upstream``) come from
:mod:`pytest_routellm.plugin`, which pytest loads through the ``pytest11`` entry point.

Usage in a plugin's tests::

    from pytest_routellm import RouterContract

    class TestMyRouter(RouterContract):
        router_name = "my_router"
        router_config = {"option": 1}
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest

from routellm.errors import ConfigError
from routellm.routing import ModelPair

SAMPLE_PROMPTS = [
    "Hi!",
    "What is the capital of France?",
    "Prove that there are infinitely many primes, then generalise the argument to primes of the form 4k+3.",
    "Write a Python function that merges two sorted linked lists in place and explain its complexity.",
    "Translate 'good morning' into Spanish.",
    "A train leaves at 3pm going 60 mph; another leaves at 4pm going 80 mph. When does the second catch up?",
]


class RouterContract:
    """Behaviour every router must have. Set ``router_name`` (and ``router_config``)."""

    router_name: ClassVar[str]
    router_config: ClassVar[dict[str, Any]] = {}
    prompts: ClassVar[list[str]] = SAMPLE_PROMPTS
    #: Tolerance between batched and one-by-one scores (float32 models differ slightly).
    batch_atol: ClassVar[float] = 1e-5

    @pytest.fixture(scope="class")
    @staticmethod
    def router(request):
        from routellm.registry import get_registry

        cls = request.cls
        router = get_registry().create_router(cls.router_name, cls.router_config)
        yield router
        router.close()

    def test_registered_through_entry_points(self):
        from routellm.registry import get_registry

        spec = get_registry().router(self.router_name)
        assert spec.distribution, "router should come from an installed distribution"

    def test_win_rate_is_a_probability(self, router):
        for prompt in self.prompts:
            value = router.calculate_strong_win_rate(prompt)
            assert isinstance(value, float | np.floating)
            assert 0.0 <= float(value) <= 1.0

    def test_batch_matches_one_by_one(self, router):
        batched = router.batch_calculate_win_rate(self.prompts)
        assert isinstance(batched, np.ndarray)
        assert batched.shape == (len(self.prompts),)
        single = np.array([router.calculate_strong_win_rate(p) for p in self.prompts])
        np.testing.assert_allclose(batched, single, atol=self.batch_atol)

    def test_route_respects_threshold(self, router):
        models = ModelPair(strong="strong-model", weak="weak-model")
        prompt = self.prompts[1]
        win_rate = router.calculate_strong_win_rate(prompt)
        assert router.route(prompt, 0.0, models) == "strong-model"
        if win_rate < 1.0:
            assert router.route(prompt, 1.0, models) == "weak-model"
        with pytest.raises(ValueError):
            router.route(prompt, 1.5, models)

    def test_unknown_option_is_an_error_naming_it(self):
        from routellm.registry import get_registry

        section = dict(self.router_config, no_such_option_xyz=1)
        with pytest.raises(ConfigError, match="no_such_option_xyz"):
            get_registry().create_router(self.router_name, section)


class BenchmarkContract:
    """Behaviour every benchmark must have. Set ``benchmark_name`` (and ``benchmark_config``)."""

    benchmark_name: ClassVar[str]
    benchmark_config: ClassVar[dict[str, Any]] = {}
    #: Expected number of prompts after decontamination, when known.
    expected_count: ClassVar[int | None] = None

    @pytest.fixture(scope="class")
    @staticmethod
    def benchmark_section(request) -> dict[str, Any]:
        """The benchmark's config section; override this fixture to add options from other fixtures
        (e.g. a ``data_dir``)."""
        return dict(request.cls.benchmark_config)

    @pytest.fixture(scope="class")
    @staticmethod
    def data(request, benchmark_section):
        from routellm.registry import get_registry

        return get_registry().create_benchmark(request.cls.benchmark_name, benchmark_section).load()

    def test_shapes(self, data):
        assert len(data.prompts) > 0
        assert all(isinstance(p, str) and p for p in data.prompts)
        for scores in data.quality.values():
            assert scores.shape == (len(data.prompts),)
            assert np.isfinite(scores).all()

    def test_count(self, data):
        if self.expected_count is not None:
            assert len(data.prompts) == self.expected_count

    def test_strong_beats_weak_on_average(self, data):
        assert data.quality[data.strong_model].mean() >= data.quality[data.weak_model].mean()


# --- a real OpenAI-compatible upstream on loopback, for server and Controller tests --------------


@dataclass
class _Failure:
    status: int
    times: int
    model: str | None
    retry_after: float | None
    body: bytes | None


class FakeUpstream:
    """An ASGI app speaking the OpenAI chat completions API, with failures on demand.

    It answers ``POST /v1/chat/completions`` with ``"echo: <last user message>"`` (JSON, or SSE one
    word per chunk when ``stream`` is true; a ``usage`` chunk when ``stream_options.include_usage``),
    and records every request. Tell it to misbehave:

    * :meth:`fail` -- the next ``times`` requests (for ``model`` only, if given) get ``status``;
    * ``delay`` -- seconds to wait before answering (a slow upstream);
    * ``chunk_delay`` -- seconds between stream chunks;
    * ``drop_after`` -- a stream sends that many chunks then drops the connection;
    * ``disconnects`` counts streams whose client went away before the end.

    Run it with :func:`openai_upstream`.
    """

    def __init__(self) -> None:
        self.base_url = ""
        self.reset()

    def reset(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.failures: list[_Failure] = []
        self.delay = 0.0
        self.chunk_delay = 0.0
        self.drop_after: int | None = None
        self.disconnects = 0
        self.completed_streams = 0
        self.record = True

    def fail(
        self,
        status: int,
        times: int = 1,
        *,
        model: str | None = None,
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` requests (for ``model``, if given) with HTTP ``status``."""
        raw = json.dumps(body).encode() if body is not None else None
        self.failures.append(_Failure(status, times, model, retry_after, raw))

    def _take_failure(self, model: str) -> _Failure | None:
        for failure in self.failures:
            if failure.times > 0 and failure.model in (None, model):
                failure.times -= 1
                return failure
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["method"] != "POST" or not scope["path"].endswith("/chat/completions"):
            await _send_json(send, 404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = json.loads(b"".join(chunks))
        model = body.get("model", "")
        if self.record:
            self.requests.append(body)
            self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        # Decided on arrival: a slow request still asleep when its test ends must not take a failure queued by the
        # next test after reset() (that race made a later test see a success).
        failure = self._take_failure(model)
        if self.delay:
            await asyncio.sleep(self.delay)
        if failure is not None:
            error = (
                failure.body
                or json.dumps(
                    {"error": {"message": f"fake upstream failure {failure.status}", "type": "server_error"}}
                ).encode()
            )
            extra = (
                [(b"retry-after", str(failure.retry_after).encode())]
                if failure.retry_after is not None
                else []
            )
            await _send_bytes(send, failure.status, error, b"application/json", extra)
            return
        text = _last_user_text(body.get("messages"))
        words = ("echo: " + text).split(" ")
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        }
        if not body.get("stream"):
            message = {"role": "assistant", "content": " ".join(words)}
            if body.get("tools"):
                tool = body["tools"][0]["function"]["name"]
                message = {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": "{}"}}
                    ],
                }
            answer = {
                "id": f"chatcmpl-fake-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1700000000,
                "model": model,
                "choices": [
                    {"index": i, "message": message, "finish_reason": "stop", "logprobs": None}
                    for i in range(int(body.get("n") or 1))
                ],
                "usage": usage,
            }
            await _send_json(send, 200, answer)
            return
        await self._stream(body, model, words, usage, receive, send)

    async def _stream(self, body, model, words, usage, receive, send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    return

        watcher = asyncio.create_task(watch())
        base = {
            "id": "chatcmpl-fake-stream",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
        }
        events = [
            {
                **base,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                ],
            }
        ]
        for i, word in enumerate(words):
            events.append(
                {
                    **base,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"content": word if i == 0 else " " + word},
                            "finish_reason": None,
                        }
                    ],
                }
            )
        events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**base, "choices": [], "usage": usage})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )
        try:
            for sent, event in enumerate(events):
                if self.drop_after is not None and sent >= self.drop_after:
                    raise ConnectionAbortedError("fake upstream drops the stream on purpose")
                if gone.is_set():
                    self.disconnects += 1
                    return
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"data: " + json.dumps(event).encode() + b"\n\n",
                        "more_body": True,
                    }
                )
                if self.chunk_delay:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(gone.wait(), self.chunk_delay)
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
            self.completed_streams += 1
        finally:
            watcher.cancel()


def _last_user_text(messages: Any) -> str:
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else str(content)
    return ""


async def _send_bytes(send, status: int, body: bytes, content_type: bytes, extra=()) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_json(send, status: int, payload: Any) -> None:
    await _send_bytes(send, status, json.dumps(payload).encode(), b"application/json")


@contextmanager
def serve_in_thread(app: Any, *, host: str = "127.0.0.1", port: int = 0, http: Any = "auto") -> Iterator[str]:
    """Run an ASGI ``app`` with uvicorn on a loopback port in a daemon thread; yield ``http://host:port``.

    ``http``: uvicorn's HTTP protocol (a name or a class)."""
    import threading
    import time

    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="on", http=http
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="routellm-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def openai_upstream(*, port: int = 0) -> Iterator[FakeUpstream]:
    """Start a :class:`FakeUpstream` on loopback; its ``base_url`` ends in ``/v1``."""
    upstream = FakeUpstream()
    with serve_in_thread(upstream, port=port) as url:
        upstream.base_url = f"{url}/v1"
        yield upstream


@contextmanager
def routing_server(
    upstream_url: str,
    *,
    routers: tuple[str, ...] = ("random",),
    config: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
    models: dict[str, Any] | list[dict[str, Any]] | None = None,
) -> Iterator[tuple[str, Any]]:
    """Run ``routellm serve``'s app on loopback against ``upstream_url``; yield ``(base_url, app)``.

    ``config`` holds ``routers:`` options; ``server`` and ``models`` are the config sections (both
    models default to ``upstream_url``, with key ``sk-upstream-test``).
    """
    from routellm.config import parse_config
    from routellm.engine import RoutingEngine
    from routellm.multi_model import ModelLadder
    from routellm.routing import ModelPair
    from routellm.server.app import create_app
    from routellm.server.settings import resolve_settings

    cfg = parse_config({"routers": config or {}})
    models = models or {
        "strong": {"name": "gpt-4-1106-preview", "base_url": upstream_url, "api_key": "sk-upstream-test"},
        "weak": {
            "name": "mixtral-8x7b-instruct-v0.1",
            "base_url": upstream_url,
            "api_key": "sk-upstream-test",
        },
    }
    settings = resolve_settings(models, {"backoff": 0.01, **(server or {})})
    engine = RoutingEngine.from_config(
        routers,
        cfg,
        ModelPair(settings.strong.name, settings.weak.name),
        routing_input=settings.server.routing_input,
        max_workers=settings.server.router_threads,
        ladder=ModelLadder.from_settings(settings),
        batching=settings.server.batching,
    )
    from routellm.server.protocol import TimedHttpToolsProtocol

    app = create_app(settings, engine)
    # The server's own protocol, with this server's request deadline (a class per server, not a global).
    protocol = type("Protocol", (TimedHttpToolsProtocol,), {"request_timeout": settings.server.request_timeout})
    with serve_in_thread(app, http=protocol) as url:
        yield f"{url}/v1", app


class SlowUpstream:
    """An ASGI upstream that answers after ``delay`` s unless the caller disconnects first; counts both
    outcomes (``finished``, ``abandoned``). For client-disconnect tests."""

    def __init__(self, delay: float) -> None:
        self.delay, self.finished, self.abandoned = delay, 0, 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        sleeper = asyncio.ensure_future(asyncio.sleep(self.delay))
        gone = asyncio.ensure_future(receive())
        done, _ = await asyncio.wait({sleeper, gone}, return_when=asyncio.FIRST_COMPLETED)
        if gone in done:
            sleeper.cancel()
            self.abandoned += 1
            return
        gone.cancel()
        self.finished += 1
        body = b'{"id": "x", "object": "chat.completion", "model": "m", "choices": []}'
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


@contextmanager
def raw_upstream(answer: bytes) -> Iterator[str]:
    """A TCP server on loopback that reads each request and answers ``answer`` verbatim (bytes that need not
    be HTTP), then closes; yields its ``/v1`` URL. For upstream fault tests."""
    import re
    import socket
    import threading

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                found = re.search(rb"content-length: (\d+)", head, re.I)
                length = int(found.group(1)) if found else 0
                while len(rest) < length:
                    rest += conn.recv(65536)
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(2)
        sock.close()
