"""The ``models:`` and ``server:`` config sections, and resolving them (with CLI flags) into settings.

```yaml
models:
  strong:
    name: gpt-4-1106-preview            # the name routers choose and clients see
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY         # or api_key: sk-...
    model: gpt-4-1106-preview           # the upstream's name for it (default: name)
  weak: mixtral-8x7b-instruct-v0.1      # a bare name: same endpoint as the strong model
server:
  port: 6060
  api_keys_env: ROUTELLM_API_KEYS       # comma-separated; or api_keys: [...]
  fallback: true
```
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

import msgspec

from routellm.batching import BatchingConfig
from routellm.errors import ConfigError
from routellm.routing import DEFAULT_STRONG, DEFAULT_WEAK, ModelPair
from routellm.structs import convert_section

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"


class Secret:
    """A credential that never shows in ``repr``, logs or error messages."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class Price(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A model's price in USD per 1M tokens, for input (prompt) and output (completion) tokens."""

    input: float
    output: float

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        """USD for one call with this usage."""
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


class EndpointSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One model's upstream, as written in the config."""

    name: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None
    model: str | None = None
    #: USD per 1M input/output tokens (required when ``models:`` lists more than two models).
    price: Price | None = None


class ModelsSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``models:``: the strong and the weak model, each a bare name or an endpoint mapping."""

    strong: str | EndpointSection | None = None
    weak: str | EndpointSection | None = None


#: Range-checked option types: a bad value is one line naming the option, before anything starts.
Seconds = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Threshold = Annotated[float, msgspec.Meta(ge=0, le=1)]


class Timeouts(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Upstream timeouts in seconds. ``read`` bounds the wait for each chunk, not the whole answer."""

    connect: Seconds = 5.0
    read: Seconds = 300.0
    write: Seconds = 30.0
    pool: Seconds = 30.0


class ServerSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``server:``: how ``routellm serve`` listens, authenticates, retries and routes."""

    host: str = "127.0.0.1"
    port: Port = 6060
    workers: Positive = 1
    #: Keys clients must send as ``Authorization: Bearer <key>``; none configured = no auth.
    api_keys: list[str] = []
    #: An environment variable holding more keys, comma-separated.
    api_keys_env: str | None = None
    #: Largest request body accepted, in bytes (413 beyond it).
    max_body_bytes: Positive = 8 * 1024 * 1024
    #: Seconds a client may take to send a whole request, headers and body (408 and closed beyond it).
    request_timeout: Seconds = 30.0
    #: Largest upstream answer relayed, in bytes (502 beyond it; a stream ends with an error event).
    max_response_bytes: Positive = 32 * 1024 * 1024
    #: What routers score: the last user message (RouteLLM's behaviour) or the whole conversation.
    routing_input: Literal["last_user", "conversation"] = "last_user"
    timeouts: Timeouts = Timeouts()
    #: Retries after a connect error, 429 or 5xx, while nothing has reached the client yet.
    retries: Annotated[int, msgspec.Meta(ge=0)] = 2
    #: First backoff delay in seconds; doubles each retry (with jitter), capped by ``backoff_max``.
    backoff: NonNegative = 0.2
    backoff_max: NonNegative = 5.0
    #: After the routed model's retries fail, try the other model once through the same policy.
    fallback: bool = False
    #: Upstream connection pool size (shared by all requests of one worker).
    max_connections: Positive = 512
    #: The pooled client's transport: aiohttp's pool under httpx's API, httpx's own, or auto.
    http_transport: Literal["auto", "aiohttp", "httpx"] = "auto"
    #: Thresholds listed by ``GET /v1/models`` for each router (any threshold may be called).
    listed_thresholds: list[Threshold] = msgspec.field(default_factory=lambda: [0.5])
    #: Worker threads scoring non-inline routers (torch, network embedders).
    router_threads: Positive = 4
    #: Cross-request micro-batching of concurrent requests for one router (see routellm.batching).
    batching: BatchingConfig = BatchingConfig()


class Upstream(msgspec.Struct, frozen=True):
    """A resolved upstream: where ``name`` is served and with which key."""

    name: str
    base_url: str
    model: str
    api_key: Secret | None = None
    price: Price | None = None

    @property
    def chat_url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


class ServeSettings(msgspec.Struct, frozen=True):
    """Everything ``routellm serve`` and the Controller need besides the routers."""

    strong: Upstream
    weak: Upstream
    server: ServerSection = ServerSection()
    server_api_keys: tuple[Secret, ...] = ()
    #: With a ``models:`` list of N models: every upstream, cheapest first (empty for a strong/weak pair).
    ladder: tuple[Upstream, ...] = ()

    @property
    def upstreams(self) -> dict[str, Upstream]:
        if self.ladder:
            return {u.name: u for u in self.ladder}
        return {self.strong.name: self.strong, self.weak.name: self.weak}

    @property
    def multi_model(self) -> bool:
        """Whether requests are routed among a ``models:`` list rather than a strong/weak pair."""
        return bool(self.ladder)


class Overrides(msgspec.Struct, frozen=True, omit_defaults=True):
    """Command-line flags (RouteLLM's) that override the config; ``None`` = keep the config's."""

    strong_model: str | None = None
    weak_model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    alt_base_url: str | None = None
    alt_api_key: str | None = None
    host: str | None = None
    port: int | None = None
    workers: int | None = None
    fallback: bool | None = None


def _endpoint(value: str | EndpointSection | None) -> EndpointSection:
    if value is None:
        return EndpointSection()
    if isinstance(value, str):
        return EndpointSection(name=value)
    return value


def _key(section: EndpointSection, flag: str | None, where: str) -> Secret | None:
    if flag:
        return Secret(flag)
    if section.api_key and section.api_key_env:
        raise ConfigError(f"{where}: give either 'api_key' or 'api_key_env', not both")
    if section.api_key:
        return Secret(section.api_key)
    if section.api_key_env:
        value = os.environ.get(section.api_key_env)
        if not value:
            raise ConfigError(
                f"{where}: environment variable {section.api_key_env} (api_key_env) is not set; "
                f"export it or put the key in 'api_key'"
            )
        return Secret(value)
    return None


def model_pair(models: Any = None, *, where: str = "config") -> ModelPair:
    """The strong and weak model names a ``models:`` section gives (RouteLLM's pair by default)."""
    section = convert_section(models, ModelsSection, where=f"{where}: models")
    return ModelPair(
        strong=_endpoint(section.strong).name or DEFAULT_STRONG, weak=_endpoint(section.weak).name or DEFAULT_WEAK
    )


def resolve_settings(
    models: Any = None, server: Any = None, overrides: Overrides | None = None, *, where: str = "config"
) -> ServeSettings:
    """Resolve the raw ``models:`` and ``server:`` sections plus flags into :class:`ServeSettings`.

    Precedence per field: flag, then config, then default. ``--base-url/--api-key`` set the strong
    model's upstream (and the weak one's when it has none); ``--alt-base-url/--alt-api-key`` set the
    weak model's. Without any key, ``$OPENAI_API_KEY`` is used when set (as RouteLLM did).
    """
    o = overrides or Overrides()
    if isinstance(models, list):
        from routellm.multi_model import resolve_model_list

        ladder = resolve_model_list(models, o, where=where)
        settings = resolve_settings(None, server, msgspec.structs.replace(
            o, strong_model=None, weak_model=None, base_url=None, api_key=None, alt_base_url=None, alt_api_key=None
        ), where=where)
        return msgspec.structs.replace(settings, strong=ladder[-1], weak=ladder[0], ladder=ladder)
    models_section = convert_section(models, ModelsSection, where=f"{where}: models")
    server_section = convert_section(server, ServerSection, where=f"{where}: server")
    strong = _endpoint(models_section.strong)
    weak = _endpoint(models_section.weak)

    strong_name = o.strong_model or strong.name or DEFAULT_STRONG
    weak_name = o.weak_model or weak.name or DEFAULT_WEAK
    if strong_name == weak_name:
        raise ConfigError(f"{where}: the strong and weak model are both '{strong_name}'; give two models")
    strong_base = o.base_url or strong.base_url or DEFAULT_BASE_URL
    strong_key = _key(strong, o.api_key, f"{where}: models.strong")
    if strong_key is None and os.environ.get(DEFAULT_API_KEY_ENV):
        strong_key = Secret(os.environ[DEFAULT_API_KEY_ENV])
    # The weak model shares the strong model's endpoint unless it has its own.
    weak_base = o.alt_base_url or weak.base_url or strong_base
    weak_key = _key(weak, o.alt_api_key, f"{where}: models.weak")
    if weak_key is None and weak_base == strong_base:
        weak_key = strong_key
    for label, url in (("strong", strong_base), ("weak", weak_base)):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{where}: models.{label}.base_url must start with http:// or https://, got '{url}'"
            )

    for index, key in enumerate(server_section.api_keys):
        if not key.strip() or key != key.strip():
            raise ConfigError(
                f"{where}: server.api_keys[{index}] is blank or has spaces around it; no client could send it"
            )
    server_keys = list(server_section.api_keys)
    if server_section.api_keys_env:
        raw = os.environ.get(server_section.api_keys_env)
        if not raw:
            raise ConfigError(
                f"{where}: environment variable {server_section.api_keys_env} (server.api_keys_env) is not set"
            )
        server_keys += [k.strip() for k in raw.split(",") if k.strip()]
    changes = {k: getattr(o, k) for k in ("host", "port", "workers", "fallback") if getattr(o, k) is not None}
    if changes:  # flags pass the same range checks as the config
        flags = {**msgspec.to_builtins(server_section), **changes}
        server_section = convert_section(flags, ServerSection, where=f"{where}: server (with command-line flags)")
    # The keys live on as Secrets only, so no repr or log of the settings shows them.
    server_section = msgspec.structs.replace(server_section, api_keys=[])
    return ServeSettings(
        strong=Upstream(strong_name, strong_base, strong.model or strong_name, strong_key, strong.price),
        weak=Upstream(weak_name, weak_base, weak.model or weak_name, weak_key, weak.price),
        server=server_section,
        server_api_keys=tuple(Secret(k) for k in dict.fromkeys(server_keys)),
    )
