"""The Controller SDK: route in-process, call the upstreams directly, OpenAI-client shape.

```python
from routellm.controller import Controller

client = Controller(routers=["random"], strong_model="gpt-4o", weak_model="gpt-4o-mini",
                    api_base="http://localhost:8000/v1", api_key="sk-...")
reply = client.chat.completions.create(model="router-random-0.5",
                                       messages=[{"role": "user", "content": "Hi"}])
print(reply.model, reply.choices[0].message.content, reply.routing.win_rate)
reply = await client.chat.completions.acreate(model="router-random-0.5", messages=..., stream=True)
```

It shares the model-name parser, routing engine and upstream client (retries, fallback) with the
server. The async methods run on the caller's event loop; the sync ones drive the same async code
on a private event-loop thread (an anyio blocking portal), so both behave alike.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from routellm.config import Config, load_config, parse_config
from routellm.engine import Decision, RequestError, RoutingEngine
from routellm.model_names import format_model_name
from routellm.multi_model import ModelLadder
from routellm.routing import ModelPair
from routellm.server.settings import Overrides, ServeSettings, resolve_settings
from routellm.server.upstream import Attempt, UpstreamClient, UpstreamFailure, build_client, failure_kind


class FunctionCall(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class ToolCall(msgspec.Struct):
    id: str | None = None
    type: str | None = None
    function: FunctionCall | None = None
    index: int | None = None


class Message(msgspec.Struct):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    refusal: str | None = None


class Choice(msgspec.Struct):
    index: int = 0
    message: Message | None = None
    finish_reason: str | None = None
    logprobs: Any = None


class ChunkChoice(msgspec.Struct):
    index: int = 0
    delta: Message | None = None
    finish_reason: str | None = None
    logprobs: Any = None


class Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: dict[str, Any] | None = None
    completion_tokens_details: dict[str, Any] | None = None


class ChatCompletion(msgspec.Struct):
    """A chat completion as OpenAI returns it, plus ``routing``: how the Controller routed it."""

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[Choice] = []
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    routing: Decision | None = None


class ChatCompletionChunk(msgspec.Struct):
    """One streamed chunk, plus ``routing``."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = []
    usage: Usage | None = None
    system_fingerprint: str | None = None
    routing: Decision | None = None


class UpstreamError(Exception):
    """The upstream refused the request (4xx, or 429/5xx once retries are spent)."""

    def __init__(self, status: int, body: bytes, model: str) -> None:
        self.status = status
        self.body = body
        self.model = model
        try:
            detail = msgspec.json.decode(body).get("error", {}).get("message")
        except (msgspec.DecodeError, AttributeError):
            detail = None
        if not detail:
            detail = body[:200].decode("utf-8", "replace")
        super().__init__(f"upstream for model '{model}' answered {status}: {detail}")


_decode_completion = msgspec.json.Decoder(ChatCompletion).decode
_decode_chunk = msgspec.json.Decoder(ChatCompletionChunk).decode


async def _sse_events(attempt: Attempt) -> AsyncIterator[bytes]:
    """``data:`` payloads of an SSE stream, reassembled across chunk boundaries."""
    from routellm.server.upstream import relay

    buffer = b""
    async for chunk in relay(attempt):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            line = line.rstrip(b"\r")
            if line.startswith(b"data:"):
                data = line[5:].strip()
                if data == b"[DONE]":
                    return
                if data:
                    yield data


def _model_name(model: str | None, router: str | None, threshold: float | None) -> str:
    if model is not None:
        if router is not None or threshold is not None:
            raise RequestError(
                "give either model='router-<router>-<threshold>' or router= and threshold=, not both"
            )
        return model
    if router is None or threshold is None:
        raise RequestError(
            "give model='router-<router>-<threshold>' (or router= and threshold=)", param="model"
        )
    return format_model_name(router, threshold)


class _Completions:
    def __init__(self, controller: Controller) -> None:
        self._controller = controller

    def create(self, *, messages: list[dict[str, Any]], model: str | None = None, **kwargs: Any) -> Any:
        """Route and call the upstream; ``stream=True`` returns an iterator of chunks."""
        return self._controller.completion(model=model, messages=messages, **kwargs)

    async def acreate(
        self, *, messages: list[dict[str, Any]], model: str | None = None, **kwargs: Any
    ) -> Any:
        """Async :meth:`create`; ``stream=True`` returns an async iterator of chunks."""
        return await self._controller.acompletion(model=model, messages=messages, **kwargs)


class _Chat:
    def __init__(self, controller: Controller) -> None:
        self.completions = _Completions(controller)


class Controller(AbstractContextManager):
    """Routes chat requests between a strong and a weak model, in-process.

    ``config`` is a YAML path, a parsed mapping or a :class:`~routellm.config.Config`; its
    ``models:`` and ``server:`` sections (timeouts, retries, fallback, routing input) apply too.
    ``api_base``/``api_key`` are the strong model's upstream (and the weak one's unless
    ``alt_api_base``/``alt_api_key`` are given), as ``--base-url``/``--api-key`` are for the server.
    """

    def __init__(
        self,
        routers: Sequence[str],
        strong_model: str | None = None,
        weak_model: str | None = None,
        config: str | Path | Mapping[str, Any] | Config | None = None,
        api_base: str | None = None,
        api_key: str | None = None,
        *,
        alt_api_base: str | None = None,
        alt_api_key: str | None = None,
        fallback: bool | None = None,
    ) -> None:
        if isinstance(routers, str):
            routers = [routers]
        if not routers:
            raise ValueError("give at least one router, e.g. Controller(routers=['mf'])")
        if isinstance(config, Config):
            cfg = config
        elif isinstance(config, Mapping):
            cfg = parse_config(config)
        else:
            cfg = load_config(config)
        overrides = Overrides(
            strong_model=strong_model,
            weak_model=weak_model,
            base_url=api_base,
            api_key=api_key,
            alt_base_url=alt_api_base,
            alt_api_key=alt_api_key,
            fallback=fallback,
        )
        self.settings: ServeSettings = resolve_settings(
            cfg.section("models"), cfg.section("server"), overrides, where=cfg.where
        )
        self.models = ModelPair(strong=self.settings.strong.name, weak=self.settings.weak.name)
        self.engine = RoutingEngine.from_config(
            routers,
            cfg,
            self.models,
            routing_input=self.settings.server.routing_input,
            max_workers=self.settings.server.router_threads,
            ladder=ModelLadder.from_settings(self.settings),
            batching=self.settings.server.batching,
        )
        self.chat = _Chat(self)
        self._clients: dict[asyncio.AbstractEventLoop, UpstreamClient] = {}
        self._portal_cm: Any = None
        self._portal: Any = None
        self._lock = threading.Lock()

    # --- routing only -------------------------------------------------------------------------

    @property
    def routers(self) -> dict[str, Any]:
        return self.engine.routers

    def route(self, prompt: str, router: str, threshold: float) -> str:
        """The model ``router`` sends ``prompt`` to at ``threshold``."""
        return self.engine.route(prompt, router, threshold)

    def batch_calculate_win_rate(self, prompts: Sequence[str] | Any, router: str) -> np.ndarray:
        """Strong win rates for many prompts (a list, or a pandas/polars Series) as a float64 array."""
        return self.engine.batch_calculate_win_rate(list(prompts), router)

    # --- completions --------------------------------------------------------------------------

    def _client(self) -> UpstreamClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for stale in [other for other in self._clients if other.is_closed()]:
                del self._clients[stale]
            client = self._clients[loop] = UpstreamClient(self.settings, build_client(self.settings.server))
        return client

    async def acompletion(
        self,
        *,
        messages: list[dict[str, Any]],
        model: str | None = None,
        router: str | None = None,
        threshold: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Route ``messages`` and call the chosen model; ``stream=True`` gives an async iterator.

        Name the router model as ``model="router-mf-0.11593"`` or, as RouteLLM's Controller also
        allowed, as ``router="mf", threshold=0.11593``.
        """
        model = _model_name(model, router, threshold)
        body = {"model": model, "messages": messages, **kwargs}
        decision = await self.engine.adecide(model, messages)
        stream = body.get("stream") is True
        attempt = await self._client().send(decision.model, body, stream=stream, fallback_to=decision.fallbacks)
        status = attempt.response.status_code
        if status != 200:
            raise UpstreamError(status, attempt.response.content, attempt.upstream.name)
        decision = msgspec.structs.replace(decision, model=attempt.upstream.name)
        if not stream:
            reply = _decode_completion(attempt.response.content)
            reply.model = attempt.upstream.name
            reply.routing = decision
            return reply
        return self._chunks(attempt, decision)

    async def _chunks(self, attempt: Attempt, decision: Decision) -> AsyncIterator[ChatCompletionChunk]:
        import httpx

        try:
            async for data in _sse_events(attempt):
                if data.startswith(b'{"error"'):
                    raise UpstreamError(502, data, attempt.upstream.name)
                chunk = _decode_chunk(data)
                chunk.model = attempt.upstream.name
                chunk.routing = decision
                yield chunk
        except httpx.HTTPError as exc:
            raise UpstreamFailure(
                f"upstream stream for model '{attempt.upstream.name}' broke: {failure_kind(exc)}"
            ) from None

    def completion(
        self,
        *,
        messages: list[dict[str, Any]],
        model: str | None = None,
        router: str | None = None,
        threshold: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Sync :meth:`acompletion`; ``stream=True`` gives an iterator."""
        model = _model_name(model, router, threshold)
        portal = self._blocking_portal()
        result = portal.call(lambda: self.acompletion(model=model, messages=messages, **kwargs))
        if not kwargs.get("stream"):
            return result
        return self._iterate(portal, result)

    @staticmethod
    def _iterate(portal: Any, chunks: AsyncIterator[ChatCompletionChunk]) -> Iterator[ChatCompletionChunk]:
        try:
            while True:
                try:
                    yield portal.call(chunks.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            portal.call(chunks.aclose)  # type: ignore[attr-defined]  # openai's AsyncStream has aclose

    def _blocking_portal(self) -> Any:
        with self._lock:
            if self._portal is None:
                from anyio.from_thread import start_blocking_portal

                self._portal_cm = start_blocking_portal()
                self._portal = self._portal_cm.__enter__()
            return self._portal

    # --- lifecycle ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the current event loop's upstream client (async users call this before exiting)."""
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.client.aclose()

    def close(self) -> None:
        """Close the sync client's event loop thread and the routers."""
        with self._lock:
            if self._portal is not None:
                self._portal.call(self.aclose)
                self._portal_cm.__exit__(None, None, None)
                self._portal = self._portal_cm = None
        self.engine.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Controller:
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close this event loop's client, then everything else."""
        await self.aclose()
        self.close()


__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "Controller",
    "RequestError",
    "UpstreamError",
    "UpstreamFailure",
]
