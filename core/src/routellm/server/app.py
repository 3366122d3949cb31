"""The Litestar app factory: ``create_app(settings, engine)`` builds a new app, with no module state.

Endpoints: ``POST /v1/chat/completions`` (JSON or SSE relayed chunk by chunk), ``GET /v1/models``,
``GET /health`` and ``GET /metrics``. The hot path decodes the body once into a dict, routes on it,
re-encodes it with only ``model`` replaced, and returns the upstream's bytes untouched.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import ASGIApp

from routellm.engine import Decision, RequestError, RoutingEngine
from routellm.model_names import format_model_name, format_threshold
from routellm.server.metrics import ServerMetrics
from routellm.server.schemas import Health, ModelCard, ModelList, UsageOnly, error_json, sse_error
from routellm.server.settings import ServeSettings
from routellm.server.upstream import (
    Attempt,
    UpstreamClient,
    UpstreamFailure,
    build_client,
    failure_kind,
    relay,
)

log = logging.getLogger("routellm.server")

JSON = "application/json"
SSE = "text/event-stream"
#: Upstream headers worth passing on to the client.
_FORWARD_PREFIXES = (b"x-ratelimit-", b"x-request-id", b"openai-")
JSON_BYTES = JSON.encode()
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
_decode_usage = msgspec.json.Decoder(UsageOnly).decode


def _error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> ASGIResponse:
    body = error_json(status, message, param=param, code=code)
    return ASGIResponse(body=body, status_code=status, media_type=JSON, encoded_headers=headers)


def _http_exception_handler(_: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    messages = {
        413: "request body too large",
        404: "not found: this server serves /v1/chat/completions, /v1/models, /health and /metrics",
        405: "method not allowed",
    }
    message = messages.get(status) or str(exc.detail)
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    return Response(content=error_json(status, message), status_code=status, media_type=JSON, headers=headers)


def _internal_error_handler(request: Request, exc: Exception) -> Response:
    log.error(
        "unhandled error on %s %s: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc
    )
    return _error(500, "internal server error; see the server log")


class _State:
    """Per-app objects, created by the factory and opened by the lifespan."""

    def __init__(self, settings: ServeSettings, engine: RoutingEngine, metrics: ServerMetrics) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.upstream: UpstreamClient | None = None
        self.keys = [k.reveal().encode() for k in settings.server_api_keys]
        self.created = int(time.time())


def create_app(
    settings: ServeSettings,
    engine: RoutingEngine,
    *,
    http_client: httpx.AsyncClient | None = None,
    close_engine: bool = True,
) -> Litestar:
    """A new server app routing with ``engine`` to the upstreams in ``settings``.

    ``http_client`` replaces the pooled client the lifespan would open (it is then not closed).
    ``close_engine``: close the engine's routers when the app shuts down.
    """
    metrics = ServerMetrics()
    state = _State(settings, engine, metrics)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        client = http_client or build_client(settings.server)

        def on_error(model: str, kind: str) -> None:
            metrics.upstream_errors.inc(model, kind)

        state.upstream = UpstreamClient(settings, client, on_error=on_error)
        try:
            yield
        finally:
            if http_client is None:
                await client.aclose()
            if close_engine:
                engine.close()

    def require_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            given = token.strip().encode()
            if any(hmac.compare_digest(given, key) for key in state.keys):
                return
        raise NotAuthorizedException("missing or invalid API key: send 'Authorization: Bearer <key>'")

    # No guard at all without keys: nothing to run per request.
    guards = [require_key] if state.keys else []

    @post("/v1/chat/completions", guards=guards, status_code=200)
    async def chat_completions(request: Request) -> ASGIApp:
        return await _chat(state, await request.body())

    @get("/v1/models", guards=guards)
    async def list_models() -> Response:
        cards = [
            ModelCard(format_model_name(name, t), state.created, "routellm")
            for name in engine.routers
            for t in settings.server.listed_thresholds
        ]
        cards += [ModelCard(name, state.created, "upstream") for name in settings.upstreams]
        return Response(content=msgspec.json.encode(ModelList(cards)), media_type=JSON)

    @get("/health")
    async def health() -> Response:
        body = Health("ok", list(engine.routers), list(settings.upstreams))
        return Response(content=msgspec.json.encode(body), media_type=JSON)

    @get("/metrics")
    async def prometheus() -> Response:
        return Response(content=metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    app = Litestar(
        route_handlers=[chat_completions, list_models, health, prometheus],
        lifespan=[lifespan],
        exception_handlers={HTTPException: _http_exception_handler, Exception: _internal_error_handler},
        request_max_body_size=settings.server.max_body_bytes,
        openapi_config=None,
        logging_config=None,
        debug=False,
    )
    app.state.routellm = state
    return app


def _routing_headers(decision: Decision, model: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-routellm-model", model.encode())]
    if decision.router is not None:
        headers.append((b"x-routellm-router", decision.router.encode()))
        headers.append((b"x-routellm-threshold", format_threshold(decision.threshold).encode()))
        headers.append((b"x-routellm-win-rate", f"{decision.win_rate:.6g}".encode()))
    return headers


def _decision_headers(decision: Decision, attempt: Attempt) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Response headers (already encoded) and the upstream's content type."""
    headers = _routing_headers(decision, attempt.upstream.name)
    if attempt.fell_back_from is not None:
        headers.append((b"x-routellm-fallback-from", attempt.fell_back_from.encode()))
    content_type = JSON_BYTES
    for key, value in attempt.response.headers.raw:
        key = key.lower()
        if key == b"content-type":
            content_type = value
        elif key.startswith(_FORWARD_PREFIXES):
            headers.append((key, value))
    return headers, content_type


async def _chat(state: _State, raw: bytes) -> ASGIApp:
    """Route one chat completion request; the hot path builds low-level ASGI responses directly."""
    metrics = state.metrics
    try:
        body = _decode(raw)
        if not isinstance(body, dict):
            raise RequestError("the request body must be a JSON object")
        if "messages" not in body:
            raise RequestError("missing required parameter 'messages'", param="messages")
        decision = await state.engine.adecide(body.get("model"), body["messages"])
    except msgspec.DecodeError:
        metrics.requests.inc("-", "-", "400")
        return _error(400, "the request body is not valid JSON")
    except RequestError as exc:
        metrics.requests.inc("-", "-", "400")
        return _error(400, str(exc), param=exc.param, code=exc.code)
    router = decision.router or "-"
    if decision.router is not None:
        metrics.routing_seconds.observe(decision.seconds, router)
    stream = body.get("stream") is True
    assert state.upstream is not None, "the app's lifespan has not started"
    try:
        attempt = await state.upstream.send(decision.model, body, stream=stream)
    except UpstreamFailure as exc:
        metrics.requests.inc(router, decision.model, str(exc.status))
        return _error(exc.status, str(exc), code=exc.kind, headers=_routing_headers(decision, decision.model))
    served = attempt.upstream.name
    response = attempt.response
    metrics.upstream_seconds.observe(attempt.seconds, served)
    if attempt.fell_back_from is not None:
        metrics.fallbacks.inc(attempt.fell_back_from, served)
    status = response.status_code
    metrics.requests.inc(router, served, str(status))
    headers, content_type = _decision_headers(decision, attempt)
    headers.append((b"content-type", content_type))
    if attempt.chunks is not None:
        options = body.get("stream_options")
        scan = isinstance(options, dict) and bool(options.get("include_usage"))
        return ASGIStreamingResponse(
            iterator=_relay(state, attempt, scan), status_code=status, encoded_headers=headers
        )
    content = response.content
    if status == 200 and attempt.upstream.model != served:
        # The upstream knows this model by another name: answer with the name clients see.
        content = rename_model(content, served)
    if status == 200:
        try:
            usage = _decode_usage(content).usage
        except (msgspec.DecodeError, msgspec.ValidationError):
            usage = None
        if usage is not None:
            metrics.tokens.inc(served, "prompt", amount=usage.prompt_tokens)
            metrics.tokens.inc(served, "completion", amount=usage.completion_tokens)
    return ASGIResponse(body=content, status_code=status, encoded_headers=headers)


async def _relay(state: _State, attempt: Attempt, scan_usage: bool) -> AsyncIterator[bytes]:
    """Relay the upstream stream; a mid-stream failure ends it with an SSE error event, never a hang."""
    served = attempt.upstream.name
    tail = b""
    try:
        chunks = relay(attempt)
        if attempt.upstream.model != served:
            chunks = rename_events(chunks, served)
        async for chunk in chunks:
            yield chunk
            if scan_usage:
                tail = _scan_usage(state.metrics, served, tail + chunk)
    except httpx.HTTPError as exc:
        kind = failure_kind(exc)
        state.metrics.upstream_errors.inc(served, f"stream_{kind}")
        log.warning("upstream stream for model '%s' broke: %s", served, kind)
        yield sse_error(f"upstream stream for model '{served}' broke: {kind}")
    except Exception as exc:  # never leave the client with a half-open stream and no reason
        log.error("relaying the stream from model '%s' failed", served, exc_info=exc)
        yield sse_error(
            "internal server error while relaying the stream; see the server log", code="server_error"
        )


def rename_model(body: bytes, model: str) -> bytes:
    """``body`` (a JSON object) with its ``model`` set to ``model``; unchanged when it has none."""
    try:
        data = _decode(body)
    except msgspec.DecodeError:
        return body
    if not isinstance(data, dict) or "model" not in data:
        return body
    data["model"] = model
    return _encode(data)


async def rename_events(chunks: AsyncIterator[bytes], model: str) -> AsyncIterator[bytes]:
    """SSE ``data:`` events with ``model`` set, each relayed as soon as its line is complete."""
    buffer = b""
    async for chunk in chunks:
        *lines, buffer = (buffer + chunk).split(b"\n")
        if not lines:
            continue
        out = []
        for line in lines:
            if line.startswith(b"data:") and line[5:].strip() not in (b"", b"[DONE]"):
                line = b"data: " + rename_model(line[5:].strip(), model)
            out.append(line)
        yield b"\n".join(out) + b"\n"
    if buffer:
        yield buffer


def _scan_usage(metrics: ServerMetrics, model: str, data: bytes) -> bytes:
    """Count ``usage`` from complete SSE lines in ``data``; return the incomplete last line."""
    *lines, rest = data.split(b"\n")
    for line in lines:
        if line.startswith(b"data:") and b'"usage"' in line:
            try:
                usage = _decode_usage(line[5:].strip()).usage
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
            if usage is not None:
                metrics.tokens.inc(model, "prompt", amount=usage.prompt_tokens)
                metrics.tokens.inc(model, "completion", amount=usage.completion_tokens)
    return rest[-65536:]


# --- building from a config, for the CLI and for uvicorn workers ---------------------------------

OPTIONS_ENV = "ROUTELLM_SERVE_OPTIONS"


class ServeOptions(msgspec.Struct, frozen=True):
    """What ``routellm serve`` was asked for: enough for each uvicorn worker to build its own app."""

    routers: list[str]
    config: str | None = None
    overrides: dict[str, Any] = {}


def load_app(options: ServeOptions) -> Litestar:
    """Load the config, resolve settings, build the routers and the app."""
    from routellm.config import load_config
    from routellm.routing import ModelPair
    from routellm.server.settings import Overrides, resolve_settings

    config = load_config(options.config)
    overrides = msgspec.convert(options.overrides, Overrides)
    settings = resolve_settings(
        config.section("models"), config.section("server"), overrides, where=config.where
    )
    engine = RoutingEngine.from_config(
        options.routers,
        config,
        ModelPair(strong=settings.strong.name, weak=settings.weak.name),
        routing_input=settings.server.routing_input,
        max_workers=settings.server.router_threads,
        batching=settings.server.batching,
    )
    return create_app(settings, engine)


def app_from_env() -> Litestar:
    """uvicorn factory for ``--workers N``: the options travel in ``$ROUTELLM_SERVE_OPTIONS``."""
    raw = os.environ.get(OPTIONS_ENV)
    if not raw:
        raise RuntimeError(f"{OPTIONS_ENV} is not set; start the server with 'routellm serve'")
    return load_app(msgspec.json.decode(raw, type=ServeOptions))
