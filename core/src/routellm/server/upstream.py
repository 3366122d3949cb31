"""Calling the upstream OpenAI-compatible endpoints: one pooled httpx client, retries, fallback.

The request body is forwarded as the client sent it, with only ``model`` replaced by the
upstream's model name. A request is retried (exponential backoff with jitter, ``Retry-After``
honoured) on connect errors, a connection dropped before any answer, 429 and 5xx, but only while
nothing has been sent to the client: for a stream, the first chunk is read before the answer is
committed. With fallback on, the other model is tried once its retries are spent.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from http.cookiejar import CookieJar
from typing import Any

import anyio
import httpx
import msgspec

from routellm.errors import ConfigError
from routellm.server.settings import ServerSection, ServeSettings, Upstream

_encode = msgspec.json.Encoder().encode

#: Failure kinds after which the request is retried: the upstream never received it, or dropped
#: the connection before answering. A read timeout is not retried (the upstream may still be working).
RETRYABLE_KINDS = frozenset({"connect_failed", "connect_timeout", "disconnected"})

_AIOHTTP_KINDS = {
    "ClientConnectorError": "connect_failed",
    "ClientConnectorDNSError": "connect_failed",
    "ConnectionTimeoutError": "connect_timeout",
    "SocketTimeoutError": "read_timeout",
    "ServerTimeoutError": "read_timeout",
    "ServerDisconnectedError": "disconnected",
    "ClientPayloadError": "disconnected",
    "ClientOSError": "disconnected",
}
_HTTPX_KINDS = (
    (httpx.ConnectError, "connect_failed"),
    (httpx.ConnectTimeout, "connect_timeout"),
    (httpx.PoolTimeout, "pool_timeout"),
    (httpx.TimeoutException, "read_timeout"),
    (httpx.RemoteProtocolError, "disconnected"),
    (httpx.ReadError, "disconnected"),
    (httpx.WriteError, "disconnected"),
)


def failure_kind(exc: httpx.HTTPError) -> str:
    """A transport-independent label for an upstream failure: ``connect_failed``, ``connect_timeout``,
    ``read_timeout``, ``pool_timeout``, ``disconnected`` or ``transport_error``."""
    cause = exc.__cause__
    if cause is not None and type(cause).__module__.startswith("aiohttp"):
        for klass in type(cause).__mro__:
            if klass.__name__ in _AIOHTTP_KINDS:
                return _AIOHTTP_KINDS[klass.__name__]
    for klass, kind in _HTTPX_KINDS:
        if isinstance(exc, klass):
            return kind
    return "transport_error"


class UpstreamFailure(Exception):
    """No usable answer from any upstream: the message is safe to show clients (no keys, no URLs)."""

    def __init__(self, message: str, *, status: int = 502, kind: str = "upstream_error") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


class Attempt(msgspec.Struct):
    """One upstream call that produced an HTTP answer (any status), with its stream open."""

    upstream: Upstream
    response: httpx.Response
    #: The first body chunk of a streamed 200 answer, already read (b"" otherwise).
    first_chunk: bytes = b""
    #: The rest of a streamed 200 answer's body (``None`` otherwise).
    chunks: AsyncIterator[bytes] | None = None
    #: When the fallback model answered instead of the routed one, the routed model's name.
    fell_back_from: str | None = None
    #: Seconds until the answer's headers (and first chunk for streams) arrived.
    seconds: float = 0.0


def build_client(server: ServerSection) -> httpx.AsyncClient:
    """The one shared, pooled client (HTTP/1.1 keep-alive) for every upstream.

    ``server.http_transport``: ``aiohttp`` puts httpx's API on aiohttp's connection pool
    (``httpx-aiohttp``), which costs about half the CPU per request of httpx's own pool and does not
    slow down with concurrency (encode/httpx#3215); ``httpx`` keeps httpx's default transport;
    ``auto`` picks ``aiohttp`` when ``httpx-aiohttp`` is installed (the ``serve`` extra installs it).
    """
    t = server.timeouts
    timeout = httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool)
    limits = httpx.Limits(
        max_connections=server.max_connections, max_keepalive_connections=server.max_connections
    )
    transport: httpx.AsyncBaseTransport | None = None
    if server.http_transport in ("auto", "aiohttp"):
        try:
            from httpx_aiohttp import AiohttpTransport
        except ImportError:
            if server.http_transport == "aiohttp":
                raise ConfigError(
                    "server.http_transport is 'aiohttp' but httpx-aiohttp is not installed: "
                    "pip install 'routellm[serve]' or set http_transport: httpx"
                ) from None
        else:
            transport = AiohttpTransport(limits=limits)
    return httpx.AsyncClient(
        transport=transport, timeout=timeout, limits=limits, follow_redirects=False, cookies=_NoCookies()
    )


class _NoCookies(CookieJar):
    """Never store upstream cookies: the client is shared by every caller (and parsing them is slow)."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class UpstreamClient:
    """Sends chat completion requests to the strong or weak model's upstream."""

    def __init__(
        self,
        settings: ServeSettings,
        client: httpx.AsyncClient,
        *,
        on_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.server = settings.server
        self.client = client
        self.upstreams = settings.upstreams
        self._on_error = on_error or (lambda model, kind: None)
        self._headers: dict[str, dict[str, str]] = {}
        self._urls = {name: httpx.URL(upstream.chat_url) for name, upstream in self.upstreams.items()}
        for name, upstream in self.upstreams.items():
            headers = {"content-type": "application/json", "accept-encoding": "identity"}
            if upstream.api_key is not None:
                headers["authorization"] = f"Bearer {upstream.api_key.reveal()}"
            self._headers[name] = headers

    def other(self, model: str) -> str:
        s = self.settings
        if s.ladder:  # N models: the next pricier model, else the next cheaper one
            from routellm.multi_model import ModelLadder, neighbours

            return neighbours(ModelLadder.from_upstreams(s.ladder), model)[0]
        return s.weak.name if model == s.strong.name else s.strong.name

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        delay = min(self.server.backoff_max, self.server.backoff * (2**attempt)) * (0.5 + random.random() / 2)
        if response is not None and (after := _retry_after(response)) is not None:
            delay = min(self.server.backoff_max, max(delay, after))
        return delay

    async def _try_model(self, model: str, body: dict[str, Any], stream: bool) -> Attempt:
        upstream = self.upstreams[model]
        payload = body if body.get("model") == upstream.model else {**body, "model": upstream.model}
        content = _encode(payload)
        headers = self._headers[model]
        url = self._urls[model]
        retries = self.server.retries
        last_error: UpstreamFailure | None = None
        for attempt in range(retries + 1):
            start = time.perf_counter()
            request = self.client.build_request("POST", url, content=content, headers=headers)
            response: httpx.Response | None = None
            try:
                response = await self.client.send(request, stream=True)
                status = response.status_code
                if status == 429 or status >= 500:
                    self._on_error(model, f"status_{status}")
                    if attempt < retries:
                        await response.aclose()
                        await asyncio.sleep(self._delay(attempt, response))
                        continue
                    await response.aread()
                    await response.aclose()
                    return Attempt(upstream, response, seconds=time.perf_counter() - start)
                if stream and status == 200:
                    iterator = response.aiter_raw()
                    first = b""
                    async for chunk in iterator:
                        if chunk:
                            first = chunk
                            break
                    return Attempt(upstream, response, first, iterator, seconds=time.perf_counter() - start)
                await response.aread()
                await response.aclose()
                return Attempt(upstream, response, seconds=time.perf_counter() - start)
            except httpx.TransportError as exc:
                if response is not None:
                    await response.aclose()
                kind = failure_kind(exc)
                self._on_error(model, kind)
                if kind not in RETRYABLE_KINDS:
                    timeout = kind.endswith("timeout")
                    raise UpstreamFailure(
                        f"upstream for model '{model}' failed: {kind}",
                        status=504 if timeout else 502,
                        kind="upstream_timeout" if timeout else "upstream_error",
                    ) from None
                last_error = UpstreamFailure(f"upstream for model '{model}' failed: {kind}", status=502)
                if attempt < retries:
                    await asyncio.sleep(self._delay(attempt, None))
                    continue
            except BaseException:
                if response is not None:
                    await response.aclose()
                raise
        assert last_error is not None
        raise last_error

    async def send(
        self,
        model: str,
        body: dict[str, Any],
        *,
        stream: bool,
        fallback: bool | None = None,
        fallback_to: tuple[str, ...] = (),
    ) -> Attempt:
        """Call ``model``'s upstream (then the other model's, with fallback) and return its answer.

        A 4xx answer (other than 429) is returned as is: the client's request is at fault and the
        other model would refuse it too. ``fallback_to``: the models to fall back to, best first (the
        first is tried; default: the other model of the pair). Raises :class:`UpstreamFailure` when nothing answered.
        """
        use_fallback = self.server.fallback if fallback is None else fallback
        try:
            result = await self._try_model(model, body, stream)
        except UpstreamFailure:
            if not use_fallback:
                raise
            result = None
        if result is not None and (not use_fallback or not _failed(result.response.status_code)):
            return result
        if result is not None:
            await result.response.aclose()
        other = fallback_to[0] if fallback_to else self.other(model)
        second = await self._try_model(other, body, stream)
        second.fell_back_from = model
        return second


def _failed(status: int) -> bool:
    return status == 429 or status >= 500


async def relay(attempt: Attempt) -> AsyncIterator[bytes]:
    """The streamed body as it arrives: the first chunk already read, then the rest, then close."""
    response = attempt.response
    try:
        if attempt.first_chunk:
            yield attempt.first_chunk
        if attempt.chunks is not None:
            async for chunk in attempt.chunks:
                if chunk:
                    yield chunk
    finally:
        # Shielded: on a client disconnect this runs inside a cancelled scope, and the upstream
        # stream must still be closed rather than left to the garbage collector.
        with anyio.CancelScope(shield=True):
            await response.aclose()
