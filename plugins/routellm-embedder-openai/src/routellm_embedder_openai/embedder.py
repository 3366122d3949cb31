"""Embeddings from an OpenAI-compatible ``POST {base_url}/embeddings`` endpoint, over httpx."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx
import msgspec
import numpy as np

from routellm.embedder import Embedder
from routellm.errors import ConfigError, RoutellmError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "text-embedding-3-small"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Output sizes of OpenAI's models, so ``dim`` needs no request.
KNOWN_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
#: Statuses worth retrying: rate limits and server-side failures.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


class EmbeddingAPIError(RoutellmError):
    """The embeddings endpoint refused the request or kept failing."""


class _Item(msgspec.Struct):
    index: int
    embedding: list[float]


class _Response(msgspec.Struct):
    data: list[_Item]


class OpenAIEmbedderConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    model: str = DEFAULT_MODEL
    #: Up to and including ``/v1``; e.g. ``http://localhost:8000/v1`` for a vLLM/TEI server.
    base_url: str = DEFAULT_BASE_URL
    #: The key itself; when unset, read from the environment variable ``api_key_env``.
    api_key: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    #: Output size to request (``dimensions`` parameter of text-embedding-3 models); also sets ``dim``.
    dimensions: int | None = None
    #: Texts per request (OpenAI accepts up to 2048).
    batch_size: int = 256
    max_retries: int = 5
    timeout: float = 60.0
    cache_size: int = 4096


class OpenAIEmbedder(Embedder[OpenAIEmbedderConfig]):
    """Batched requests to ``/embeddings``; rate limits, 5xx and network errors are retried with backoff."""

    Config = OpenAIEmbedderConfig

    def __init__(self, config: OpenAIEmbedderConfig | None = None, *, transport: httpx.BaseTransport | None = None) -> None:
        config = config if config is not None else OpenAIEmbedderConfig()
        super().__init__(config, cache_size=config.cache_size)
        if config.batch_size < 1:
            raise ConfigError(f"embedder 'openai': batch_size must be at least 1, got {config.batch_size}")
        self.batch_size = config.batch_size
        self._transport = transport
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self._dim = config.dimensions or KNOWN_DIMS.get(config.model)

    @property
    def dim(self) -> int:
        if self._dim is None:  # an unknown model: ask once
            self._dim = len(self._request(["dimension probe"])[0])
        return self._dim

    @property
    def client(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                headers = {"Content-Type": "application/json"}
                key = self.config.api_key or os.environ.get(self.config.api_key_env)
                if key:
                    headers["Authorization"] = f"Bearer {key}"
                elif self.config.base_url == DEFAULT_BASE_URL:
                    raise ConfigError(
                        f"embedder 'openai': no API key; set {self.config.api_key_env} or give `api_key:` "
                        "(or point `base_url:` at a server that needs none)"
                    )
                self._client = httpx.Client(
                    base_url=self.config.base_url.rstrip("/") + "/",
                    headers=headers,
                    timeout=self.config.timeout,
                    transport=self._transport,
                )
            return self._client

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        # The API rejects empty strings; a space embeds the same "nothing".
        return np.asarray(self._request([t if t.strip() else " " for t in texts]), dtype=np.float32)

    def _request(self, texts: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self.config.model, "input": texts, "encoding_format": "float"}
        if self.config.dimensions:
            body["dimensions"] = self.config.dimensions
        payload = msgspec.json.encode(body)
        url = f"{self.config.base_url.rstrip('/')}/embeddings"
        attempt = 0
        while True:
            try:
                response = self.client.post("embeddings", content=payload)
            except httpx.TransportError as exc:
                problem, retry_after = f"{type(exc).__name__}: {exc}", None
            else:
                if response.status_code == 200:
                    return self._decode(response, len(texts), url)
                problem = f"HTTP {response.status_code}: {_error_message(response)}"
                if response.status_code not in RETRY_STATUSES:
                    hint = " (check the API key)" if response.status_code in (401, 403) else ""
                    raise EmbeddingAPIError(f"embeddings request to {url} failed: {problem}{hint}")
                retry_after = _retry_after(response)
            if attempt >= self.config.max_retries:
                raise EmbeddingAPIError(
                    f"embeddings request to {url} failed after {attempt + 1} attempts: {problem}"
                )
            delay = retry_after if retry_after is not None else min(30.0, 0.5 * 2**attempt) * (0.5 + random.random())
            logger.warning("embeddings request failed (%s); retry %d in %.1fs", problem, attempt + 1, delay)
            time.sleep(delay)
            attempt += 1

    @staticmethod
    def _decode(response: httpx.Response, count: int, url: str) -> list[list[float]]:
        try:
            items = msgspec.json.decode(response.content, type=_Response).data
        except msgspec.DecodeError as exc:
            raise EmbeddingAPIError(f"{url} returned a body that is not an embeddings response: {exc}") from None
        if sorted(item.index for item in items) != list(range(count)):
            raise EmbeddingAPIError(f"{url} returned {len(items)} embeddings for {count} inputs")
        return [item.embedding for item in sorted(items, key=lambda item: item.index)]

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    except ValueError:
        pass
    return response.text[:200] or response.reason_phrase


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return min(60.0, max(0.0, float(value))) if value else None
    except ValueError:
        return None
