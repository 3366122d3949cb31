"""The Litestar app factory: ``create_app(settings, engine)`` builds a new app, with no module state.

Endpoints: ``POST /v1/chat/completions`` (JSON or SSE relayed chunk by chunk), ``GET /v1/models``,
``GET /health``, ``GET /metrics`` and ``GET /schema/openapi.json``. The hot path decodes the body once
into a dict, routes on it, re-encodes it with only ``model`` replaced, and returns the upstream's bytes
untouched. Every failure is an OpenAI-shaped JSON error, counted in ``routellm_requests_total``.
"""

from __future__ import annotations

import asyncio
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
from routellm.server.metrics import CONTENT_TYPE, ServerMetrics
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
CHAT_PATH = "/v1/chat/completions"
#: Status counted when the client went away before its answer (nginx's "client closed request").
CLIENT_GONE = 499
#: What a client's body can be that is not a JSON object we can read.
_BAD_JSON = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


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


def _count(request: Request, status: int) -> None:
    """Count an answer the chat handler did not produce itself (401, 413, 500...)."""
    if request.url.path == CHAT_PATH:
        state = getattr(request.app.state, "routellm", None)
        if state is not None:
            state.metrics.requests.inc("-", "-", str(status))


def _http_exception_handler(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    messages = {
        413: "request body too large (server.max_body_bytes)",
        404: "not found: this server serves /v1/chat/completions, /v1/models, /health, /metrics "
        "and /schema/openapi.json",
        405: "method not allowed",
    }
    message = messages.get(status) or str(exc.detail)
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    _count(request, status)
    return Response(content=error_json(status, message), status_code=status, media_type=JSON, headers=headers)


def _internal_error_handler(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
    _count(request, 500)
    return Response(
        content=error_json(500, "internal server error; see the server log"), status_code=500, media_type=JSON
    )


class _State:
    """Per-app objects, created by the factory and opened by the lifespan."""

    def __init__(self, settings: ServeSettings, engine: RoutingEngine, metrics: ServerMetrics) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.upstream: UpstreamClient | None = None
        self.keys = [k.reveal().encode() for k in settings.server_api_keys]
        self.created = int(time.time())
        self.request_timeout = settings.server.request_timeout
        self.max_response_bytes = settings.server.max_response_bytes
        self.max_body_bytes = settings.server.max_body_bytes
        #: Routers that have not scored their warm-up prompt yet (``/health`` is 503 until empty).
        self.warming: set[str] = set(engine.routers)
        self.warmup_error: str | None = None


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
    from routellm.server.openapi import openapi_document
    from routellm.server.warmup import warm_up

    metrics = ServerMetrics()
    metrics.prices = {name: u.price for name, u in settings.upstreams.items() if u.price is not None}
    state = _State(settings, engine, metrics)
    listed = [format_model_name(name, t) for name in engine.routers for t in settings.server.listed_thresholds]
    openapi_json = msgspec.json.encode(
        openapi_document(secured=bool(state.keys), model_names=[*listed, *settings.upstreams])
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        client = http_client or build_client(settings.server)

        def on_error(model: str, kind: str) -> None:
            metrics.upstream_errors.inc(model, kind)

        state.upstream = UpstreamClient(settings, client, on_error=on_error)
        warming = await warm_up(state)
        flusher = asyncio.ensure_future(metrics.flush_every()) if metrics.multiprocess else None
        try:
            yield
        finally:
            for task in (warming, flusher):
                if task is not None:
                    task.cancel()
            metrics.flush()
            if http_client is None:
                await client.aclose()
            if close_engine:
                engine.close()

    def require_key(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            given = token.strip().encode()
            if any(hmac.compare_digest(given, key) for key in state.keys):
                return
        raise NotAuthorizedException("missing or invalid API key: send 'Authorization: Bearer <key>'")

    # No guard at all without keys: nothing to run per request.
    guards = [require_key] if state.keys else []

    @post(CHAT_PATH, guards=guards, status_code=200)
    async def chat_completions(request: Request) -> ASGIApp:
        receive = request.receive
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            raw = message.get("body", b"")  # the usual case: the body came with the headers
            if len(raw) > state.max_body_bytes:
                raise HTTPException(status_code=413)
        else:
            try:
                async with asyncio.timeout(state.request_timeout):
                    raw = await _rest_of_body(message, receive, state.max_body_bytes)
            except TimeoutError:
                metrics.requests.inc("-", "-", "408")
                message = f"request body not received within {state.request_timeout:g} s (server.request_timeout)"
                return _error(408, message, headers=[(b"connection", b"close")])
            except ConnectionAbortedError:  # the client went away while sending its body
                metrics.requests.inc("-", "-", str(CLIENT_GONE))
                return _error(CLIENT_GONE, "client closed the request")
        return await _chat_until_disconnect(state, raw, receive)

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
        if state.warmup_error is not None:
            status, code = "failed", 503
        elif state.warming:
            status, code = "warming_up", 503
        else:
            status, code = "ok", 200
        body = Health(status, list(engine.routers), list(settings.upstreams), sorted(state.warming))
        return Response(content=msgspec.json.encode(body), media_type=JSON, status_code=code)

    @get("/metrics")
    async def prometheus() -> Response:
        return Response(content=metrics.render(), media_type=CONTENT_TYPE)

    @get("/schema/openapi.json")
    async def openapi() -> Response:
        return Response(content=openapi_json, media_type=JSON)

    app = Litestar(
        route_handlers=[chat_completions, list_models, health, prometheus, openapi],
        lifespan=[lifespan],
        exception_handlers={HTTPException: _http_exception_handler, Exception: _internal_error_handler},
        request_max_body_size=settings.server.max_body_bytes,
        openapi_config=None,  # served from msgspec structs at /schema/openapi.json instead (openapi.py)
        logging_config=None,
        debug=False,
    )
    app.state.routellm = state
    return app


def _routing_headers(decision: Decision, model: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-routellm-model", model.encode())]
    if decision.router is not None and decision.threshold is not None:
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


async def _rest_of_body(first: Any, receive: Any, limit: int) -> bytes:
    """The request body from its first ASGI message on; 413 past ``limit``, ``ConnectionAbortedError``
    when the client goes away."""
    parts: list[bytes] = []
    size = 0
    message = first
    while True:
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise HTTPException(status_code=413)
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts)
        message = await receive()


#: Seconds before a non-streaming request starts watching for its client's disconnect: answers
#: faster than this never pay for the watcher task.
WATCH_AFTER = 0.05


async def _chat_until_disconnect(state: _State, raw: bytes, receive: Any) -> ASGIApp:
    """:func:`_chat`, cancelled (upstream call included) when the client goes away before the answer.

    Streams are watched by the ASGI server itself (a failed send ends the relay); this covers the
    non-streaming wait, where nothing is sent until the upstream has answered.
    """
    task = asyncio.current_task()
    gone = False
    watcher: asyncio.Task | None = None

    async def watch() -> None:
        nonlocal gone
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                gone = True
                task.cancel()  # type: ignore[union-attr]
                return

    def start_watching() -> None:
        nonlocal watcher
        watcher = loop.create_task(watch())

    loop = asyncio.get_running_loop()
    timer = loop.call_later(WATCH_AFTER, start_watching)
    try:
        return await _chat(state, raw)
    except asyncio.CancelledError:
        if not gone:
            raise
        task.uncancel()  # type: ignore[union-attr]
        state.metrics.requests.inc("-", "-", str(CLIENT_GONE))
        return _error(CLIENT_GONE, "client closed the request")
    finally:
        timer.cancel()
        if watcher is not None:
            watcher.cancel()


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
    except _BAD_JSON as exc:
        metrics.requests.inc("-", "-", "400")
        reason = "nested too deeply" if isinstance(exc, RecursionError) else (
            "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "not valid JSON"
        )
        return _error(400, f"the request body is {reason}")
    except RequestError as exc:
        metrics.requests.inc("-", "-", "400")
        return _error(400, str(exc), param=exc.param, code=exc.code)
    router = decision.router or "-"
    if decision.router is not None:
        metrics.routing_seconds.observe(decision.seconds, router)
    stream = body.get("stream") is True
    assert state.upstream is not None, "the app's lifespan has not started"
    try:
        attempt = await state.upstream.send(decision.model, body, stream=stream, fallback_to=decision.fallbacks)
    except UpstreamFailure as exc:
        metrics.requests.inc(router, decision.model, str(exc.status))
        return _error(exc.status, str(exc), code=exc.kind, headers=_routing_headers(decision, decision.model))
    except asyncio.CancelledError:
        metrics.disconnects.inc(decision.model)
        raise
    served = attempt.upstream.name
    response = attempt.response
    metrics.upstream_seconds.observe(attempt.seconds, served)
    if attempt.fell_back_from is not None:
        metrics.fallbacks.inc(attempt.fell_back_from, served, attempt.fallback_reason)
    status = response.status_code
    headers, content_type = _decision_headers(decision, attempt)
    if attempt.chunks is not None:
        metrics.requests.inc(router, served, str(status))
        headers.append((b"content-type", content_type))
        options = body.get("stream_options")
        scan = isinstance(options, dict) and bool(options.get("include_usage"))
        return ASGIStreamingResponse(
            iterator=_relay(state, attempt, scan), status_code=status, encoded_headers=headers
        )
    content = response.content
    if status == 200:
        try:
            usage = _decode_usage(content).usage
        except msgspec.ValidationError:  # JSON, but no usable 'usage': relay it as it is
            usage = None
        except msgspec.DecodeError:  # not JSON at all: the upstream is broken, not the client
            metrics.upstream_errors.inc(served, "invalid_json")
            metrics.requests.inc(router, served, "502")
            return _error(
                502, f"upstream for model '{served}' answered 200 with a body that is not JSON",
                code="upstream_invalid_response", headers=headers,
            )
        if usage is not None:
            metrics.tokens.inc(served, "prompt", amount=usage.prompt_tokens)
            metrics.tokens.inc(served, "completion", amount=usage.completion_tokens)
            metrics.add_spend(served, usage.prompt_tokens, usage.completion_tokens)
        if attempt.upstream.model != served:
            # The upstream knows this model by another name: answer with the name clients see.
            content = rename_model(content, served)
    metrics.requests.inc(router, served, str(status))
    headers.append((b"content-type", content_type))
    return ASGIResponse(body=content, status_code=status, encoded_headers=headers)


async def _relay(state: _State, attempt: Attempt, scan_usage: bool) -> AsyncIterator[bytes]:
    """Relay the upstream stream; a mid-stream failure ends it with an SSE error event, never a hang."""
    served = attempt.upstream.name
    tail = b""
    size, limit = 0, state.max_response_bytes
    try:
        chunks = relay(attempt)
        if attempt.upstream.model != served:
            chunks = rename_events(chunks, served, limit)
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                state.metrics.upstream_errors.inc(served, "stream_too_large")
                log.warning("upstream stream for model '%s' passed server.max_response_bytes", served)
                yield sse_error(f"upstream stream for model '{served}' is too large (server.max_response_bytes)")
                return
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


async def rename_events(
    chunks: AsyncIterator[bytes], model: str, max_line: int = 32 * 1024 * 1024
) -> AsyncIterator[bytes]:
    """SSE ``data:`` events with ``model`` set, each relayed as soon as its line is complete (a line
    longer than ``max_line`` is relayed as it is: the buffer never grows without bound)."""
    buffer = b""
    async for chunk in chunks:
        if len(buffer) + len(chunk) > max_line:
            yield buffer + chunk
            buffer = b""
            continue
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
                metrics.add_spend(model, usage.prompt_tokens, usage.completion_tokens)
    return rest[-65536:]


# --- building from a config, for the CLI and for uvicorn workers ---------------------------------

OPTIONS_ENV = "ROUTELLM_SERVE_OPTIONS"


class ServeOptions(msgspec.Struct, frozen=True):
    """What ``routellm serve`` was asked for: enough for each uvicorn worker to build its own app."""

    routers: list[str]
    config: str | None = None
    overrides: dict[str, Any] = {}
    #: Set for ``--workers`` processes: the parent already logged the start-up notes and warnings.
    worker: bool = False


def load_app(options: ServeOptions) -> Litestar:
    """Load the config, resolve settings, build the routers and the app."""
    from routellm.config import load_config
    from routellm.multi_model import ModelLadder
    from routellm.routing import ModelPair
    from routellm.server.protocol import TimedHttpToolsProtocol
    from routellm.server.settings import Overrides, resolve_settings

    config = load_config(options.config)
    overrides = msgspec.convert(options.overrides, Overrides)
    settings = resolve_settings(
        config.section("models"), config.section("server"), overrides, where=config.where
    )
    if not options.worker:
        for line in describe_upstreams(settings):
            log.info("%s", line)
    engine = RoutingEngine.from_config(
        options.routers,
        config,
        ModelPair(strong=settings.strong.name, weak=settings.weak.name),
        routing_input=settings.server.routing_input,
        max_workers=settings.server.router_threads,
        ladder=ModelLadder.from_settings(settings),
        warn=not options.worker,
        batching=settings.server.batching,
    )
    TimedHttpToolsProtocol.request_timeout = settings.server.request_timeout
    return create_app(settings, engine)


def describe_upstreams(settings: ServeSettings) -> list[str]:
    """One line per model name: the upstream it resolves to (no key, no credentials in the URL)."""
    lines = []
    for role, upstream in (("strong", settings.strong), ("weak", settings.weak)):
        url = httpx.URL(upstream.base_url).copy_with(username=None, password=None)
        renamed = f" as '{upstream.model}'" if upstream.model != upstream.name else ""
        key = "with an API key" if upstream.api_key is not None else "without an API key"
        lines.append(f"model '{upstream.name}' ({role}) -> {url}{renamed}, {key}")
    return lines


def app_from_env() -> Litestar:
    """uvicorn factory for ``--workers N``: the options travel in ``$ROUTELLM_SERVE_OPTIONS``."""
    raw = os.environ.get(OPTIONS_ENV)
    if not raw:
        raise RuntimeError(f"{OPTIONS_ENV} is not set; start the server with 'routellm serve'")
    from routellm.server.cli import serve_logging

    serve_logging()
    options = msgspec.json.decode(raw, type=ServeOptions)
    return load_app(msgspec.structs.replace(options, worker=True))
