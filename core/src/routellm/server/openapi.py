"""The server's OpenAPI 3.1 document (``GET /schema/openapi.json``), generated from msgspec structs.

The structs here describe the wire for clients and fuzzers; the request path does not decode into
them (it decodes the body once into a dict and forwards it), so serving a schema costs nothing per
request. The document is built once per app.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from routellm.model_names import MAX_NAME_LENGTH
from routellm.server.schemas import ErrorBody, Health, ModelList


class ContentPart(msgspec.Struct):
    """One part of a message's content; ``text`` parts carry a string ``text``."""

    type: str
    text: str | None = None


class ChatMessage(msgspec.Struct):
    role: str
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(msgspec.Struct):
    include_usage: bool = False


class ChatCompletionRequest(msgspec.Struct):
    """OpenAI's chat completion request. Any other OpenAI field is forwarded to the upstream untouched."""

    #: ``router-<router>-<threshold>``, ``router-<router>-p<percent>``, or the strong or weak model's name.
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH)]
    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    max_tokens: int | None = None


class Choice(msgspec.Struct):
    index: int
    message: dict[str, Any] | None = None
    finish_reason: str | None = None


class Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(msgspec.Struct):
    """The upstream's answer, relayed as it came (only ``model`` may be renamed)."""

    id: str
    choices: list[Choice]
    model: str
    object: str = "chat.completion"
    created: int = 0
    usage: Usage | None = None


_ERRORS = {
    "400": "Invalid request (body, model name or messages)",
    "401": "Missing or invalid API key (only when the server has keys)",
    "408": "The request was not sent in time (server.request_timeout)",
    "413": "Request body too large (server.max_body_bytes)",
    "502": "The upstream failed or sent an invalid or too large answer",
    "504": "The upstream timed out",
}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


#: A router model name, as a JSON Schema pattern (:mod:`routellm.model_names` has the exact rules).
ROUTER_NAME_PATTERN = r"^router-[A-Za-z0-9_.-]+-(p?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)$"


def openapi_document(*, secured: bool, model_names: list[str] | None = None) -> dict[str, Any]:
    """The OpenAPI document for this server (``secured``: routes under ``/v1`` need a bearer key;
    ``model_names``: the names ``/v1/models`` lists, offered as examples of ``model``)."""
    (chat, completion, models, health, error), components = msgspec.json.schema_components(
        [ChatCompletionRequest, ChatCompletion, ModelList, Health, ErrorBody],
        ref_template="#/components/schemas/{name}",
    )
    if model_names:
        model = components["ChatCompletionRequest"]["properties"]["model"]
        components["ChatCompletionRequest"]["properties"]["model"] = {
            "anyOf": [{"enum": list(model_names)}, {**model, "pattern": ROUTER_NAME_PATTERN}],
            "description": "A router model name (router-<router>-<threshold> or router-<router>-p<percent>) "
            "or the strong or weak model's name",
        }
    errors = {status: _json(error["$ref"], text) for status, text in _ERRORS.items()}
    security: list[dict[str, list[str]]] = [{"bearer": []}] if secured else []
    chat_op = {
        "operationId": "createChatCompletion",
        "summary": "Route a chat completion to the strong or the weak model",
        "requestBody": {"required": True, "content": {"application/json": {"schema": chat}}},
        "responses": {
            "200": {
                "description": "The upstream's answer (JSON, or server-sent events with stream: true)",
                "content": {"application/json": {"schema": completion}, "text/event-stream": {"schema": {"type": "string"}}},
            },
            "429": _json(error["$ref"], "The upstream's rate limit, passed back"),
            **errors,
        },
        "security": security,
    }
    models_op = {
        "operationId": "listModels",
        "summary": "Router model names (at the listed thresholds) and the upstream models",
        "responses": {"200": _json(models["$ref"], "Models"), "401": errors["401"]},
        "security": security,
    }
    health_op = {
        "operationId": "health",
        "summary": "Ready (200) once every router has scored a warm-up prompt; 503 until then",
        "responses": {"200": _json(health["$ref"], "Ready"), "503": _json(health["$ref"], "Not ready yet")},
    }
    metrics_op = {
        "operationId": "metrics",
        "summary": "Prometheus metrics (all workers)",
        "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}},
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "routellm", "version": "1", "description": "OpenAI-compatible LLM routing server"},
        "paths": {
            "/v1/chat/completions": {"post": chat_op},
            "/v1/models": {"get": models_op},
            "/health": {"get": health_op},
            "/metrics": {"get": metrics_op},
        },
        "components": {"schemas": components},
    }
    if secured:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return document
