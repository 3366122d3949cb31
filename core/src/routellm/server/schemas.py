"""Wire shapes the server itself produces (OpenAI's snake_case); upstream bodies pass through untouched."""

from __future__ import annotations

import msgspec


class ErrorDetail(msgspec.Struct, omit_defaults=False):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(msgspec.Struct):
    """OpenAI's error shape: ``{"error": {"message", "type", "param", "code"}}``."""

    error: ErrorDetail


class ModelCard(msgspec.Struct):
    id: str
    created: int
    owned_by: str
    object: str = "model"


class ModelList(msgspec.Struct):
    data: list[ModelCard]
    object: str = "list"


class Health(msgspec.Struct):
    #: ``ok`` (200) once every router scored its warm-up prompt; ``warming_up`` or ``failed`` (503) before.
    status: str
    routers: list[str]
    models: list[str]
    #: Routers still loading or warming up.
    warming_up: list[str] = []


class Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class UsageOnly(msgspec.Struct):
    """Decodes just ``usage`` from an upstream answer (msgspec skips the rest without building it)."""

    usage: Usage | None = None


#: HTTP status -> OpenAI error ``type``.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    499: "invalid_request_error",
    502: "upstream_error",
    504: "upstream_timeout",
}

_encode = msgspec.json.Encoder().encode


def error_json(status: int, message: str, *, param: str | None = None, code: str | None = None) -> bytes:
    return _encode(ErrorBody(ErrorDetail(message, ERROR_TYPES.get(status, "server_error"), param, code)))


def sse_error(message: str, *, code: str = "upstream_error") -> bytes:
    """An SSE event carrying an error: the openai client raises it as an ``APIError`` mid-stream."""
    return b"data: " + _encode(ErrorBody(ErrorDetail(message, "upstream_error", None, code))) + b"\n\n"
