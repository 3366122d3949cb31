"""The routing engine shared by the server and the Controller.

It owns the loaded routers, turns a chat request (model name + messages) into a decision
(router, threshold, win rate, routed model), and runs router compute either inline or in a worker
thread: routers whose class sets ``Router.inline = True`` (cheap, non-blocking: ``random``) are
scored on the caller's thread / event loop, every other router (torch models, network embedders)
in a thread pool so a slow scoring never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from routellm.batching import BatchingConfig, MicroBatcher
from routellm.errors import ConfigError
from routellm.model_names import ModelNameError, RouterModel, is_router_model, parse_model_name, shown
from routellm.routing import ModelPair, choose_model

if TYPE_CHECKING:
    from routellm.calibration import CalibrationFile
    from routellm.config import Config
    from routellm.multi_model import ModelLadder
    from routellm.router import Router

#: What a router scores: the last user message (RouteLLM's behaviour) or the whole conversation.
RoutingInput = Literal["last_user", "conversation"]


class RequestError(ValueError):
    """A chat request the engine cannot route; the message tells the client what to change."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class Decision(msgspec.Struct, frozen=True):
    """Where a request goes. ``router`` is ``None`` when the client named an upstream model directly."""

    model: str
    router: str | None = None
    threshold: float | None = None
    win_rate: float | None = None
    #: Seconds spent scoring (0 for direct calls).
    seconds: float = 0.0
    #: Among N models: the other models in the order fallback tries them (best predicted first).
    fallbacks: tuple[str, ...] = ()


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts: keep the text ones (checked by check_messages)
        return "\n".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return "" if content is None else str(content)


def check_messages(messages: Any) -> None:
    """Raise :class:`RequestError` unless ``messages`` is a non-empty list of chat messages, each an
    object with a string ``role`` whose text content parts carry string ``text``."""
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list of chat messages", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(f"messages[{index}] must be an object with a string 'role'", param="messages")
        content = message.get("content")
        if isinstance(content, list):
            for number, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") == "text" and not isinstance(part.get("text"), str):
                    raise RequestError(
                        f"messages[{index}].content[{number}].text must be a string", param="messages"
                    )


def routing_prompt(messages: Any, mode: RoutingInput = "last_user") -> str:
    """The text a router scores for ``messages`` (OpenAI chat messages as plain dicts).

    ``last_user``: the content of the last ``user`` message (the last message when none is from the
    user). ``conversation``: every message as ``role: text``, one per paragraph.
    """
    check_messages(messages)
    if mode == "conversation":
        return "\n\n".join(f"{m['role']}: {_content_text(m.get('content'))}" for m in messages)
    for message in reversed(messages):
        if message["role"] == "user":
            return _content_text(message.get("content"))
    return _content_text(messages[-1].get("content"))


def load_engine_calibration(
    config: Config, routers: Mapping[str, Router], *, warn: bool = True
) -> CalibrationFile | None:
    """The calibration file for ``config`` if it exists (a configured file must exist); warns (with
    ``warn``) when a router's scoring config changed since it was calibrated."""
    import logging

    from routellm.calibration import calibrate_hint, calibration_path, load_calibration

    path = calibration_path(config)
    if not path.exists() and config.section("calibration") is None:
        return None
    calibration = load_calibration(path)
    if not warn:
        return calibration
    for name, router in routers.items():
        entry = calibration.routers.get(name)
        if entry is not None and not entry.is_current(router, name):
            logging.getLogger(__name__).warning(
                "router '%s' changed since it was calibrated (%s); recalibrate with: %s",
                name,
                path,
                calibrate_hint(name, config=config, dataset=calibration.dataset),
            )
    return calibration


class RoutingEngine:
    """Routers by name, the model pair, and the rule that turns a request into a :class:`Decision`."""

    def __init__(
        self,
        routers: Mapping[str, Router],
        models: ModelPair,
        *,
        routing_input: RoutingInput = "last_user",
        max_workers: int = 4,
        calibration: CalibrationFile | None = None,
        ladder: ModelLadder | None = None,
        batching: BatchingConfig | None = None,
    ) -> None:
        if not routers:
            raise ValueError("the routing engine needs at least one router")
        self.routers = dict(routers)
        self.models = models
        #: With a ``models:`` list: the N models, cheapest first (see :mod:`routellm.multi_model`).
        self.ladder = ladder
        self._direct = frozenset(ladder.names if ladder is not None else models.tiers)
        if ladder is not None:  # kept off the import path: multi_model imports numpy
            from routellm.multi_model import decide_fallback, decide_row, score_one, uses_ladder_fallback

            self._ladder_fallback = {name: uses_ladder_fallback(r) for name, r in self.routers.items()}
            self._score_one, self._decide_row, self._decide_fallback = score_one, decide_row, decide_fallback
            self._relative_costs = ladder.relative_costs
        self.routing_input: RoutingInput = routing_input
        self._inline = {name: bool(getattr(router, "inline", False)) for name, router in self.routers.items()}
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self.calibration = calibration
        #: The config the routers came from (names it in calibration hints), when built from one.
        self.config: Config | None = None
        #: Seconds each router took to build (``from_config``).
        self.load_seconds: dict[str, float] = {}
        #: ``router-<r>-p<percent>`` names resolved to thresholds, by name.
        self._resolved: dict[str, RouterModel] = {}
        #: Cross-request micro-batching for non-inline routers in :meth:`adecide` (``None``: off).
        self.batching = batching if batching is None or batching.enabled else None
        self._batchers: dict[str, MicroBatcher] = {}

    @classmethod
    def from_config(
        cls,
        router_names: Iterable[str],
        config: Config,
        models: ModelPair,
        *,
        routing_input: RoutingInput = "last_user",
        max_workers: int = 4,
        ladder: ModelLadder | None = None,
        warn: bool = True,
        batching: BatchingConfig | None = None,
    ) -> RoutingEngine:
        """Build each router named in ``router_names`` from ``config``; load the calibration file
        (``calibration:`` section, else the default location) when there is one. ``warn``: log that a
        router changed since it was calibrated (off in ``--workers`` processes: the parent logged it)."""
        routers: dict[str, Router] = {}
        load_seconds: dict[str, float] = {}
        try:
            for name in dict.fromkeys(router_names):
                start = time.perf_counter()
                routers[name] = config.create_router(name)
                load_seconds[name] = time.perf_counter() - start
        except BaseException:
            for router in routers.values():
                router.close()
            raise
        calibration = load_engine_calibration(config, routers, warn=warn)
        engine = cls(
            routers,
            models,
            routing_input=routing_input,
            max_workers=max_workers,
            calibration=calibration,
            ladder=ladder,
            batching=batching,
        )
        engine.config = config
        engine.load_seconds = load_seconds
        return engine

    def is_inline(self, name: str) -> bool:
        """Whether router ``name`` is scored on the caller's thread (``Router.inline``)."""
        return self._inline[name]

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="routellm-router")
        return self._executor

    def router(self, name: str) -> Router:
        try:
            return self.routers[name]
        except KeyError:
            raise RequestError(
                f"unknown router '{name}' (this server has: {', '.join(self.routers)})",
                param="model",
                code="model_not_found",
            ) from None

    def parse(self, model: Any) -> RouterModel | None:
        """The router model a request names, or ``None`` for a direct call to the strong or weak model."""
        if not isinstance(model, str) or not model:
            raise RequestError("'model' must be a non-empty string such as 'router-mf-0.5'", param="model")
        if not is_router_model(model):
            if model in self._direct:
                return None
            raise RequestError(
                f"unknown model '{shown(model)}': ask for 'router-<router>-<threshold>' "
                f"(routers: {', '.join(self.routers)}) or name one of the models {', '.join(sorted(self._direct))}",
                param="model",
                code="model_not_found",
            )
        resolved = self._resolved.get(model)
        if resolved is not None:
            return resolved
        try:
            parsed = parse_model_name(model)
        except ModelNameError as exc:
            raise RequestError(str(exc), param="model", code="model_not_found") from None
        self.router(parsed.router)
        if self.ladder is not None and (parsed.strong_share is not None or parsed.budget is not None):
            from routellm.multi_model_calibration import resolve_knob

            parsed = resolve_knob(self, model, parsed)
        elif parsed.budget is not None:
            raise RequestError(
                f"model '{model}' asks for a budget in USD per 1,000 requests, which needs a models: list with prices",
                param="model",
                code="model_not_found",
            )
        elif parsed.strong_share is not None:
            parsed = self._calibrated(model, parsed)
        return parsed

    def _calibrated(self, model: str, parsed: RouterModel) -> RouterModel:
        """Resolve a ``p<percent>`` name to the threshold calibrated for that share of strong calls."""
        from routellm.calibration import calibrate_hint

        calibration = self.calibration
        if calibration is None or parsed.router not in calibration.routers:
            where = "this server has no calibration file" if calibration is None else (
                f"router '{parsed.router}' is not calibrated (calibrated: {', '.join(calibration.routers) or 'none'})"
            )
            dataset = calibration.dataset if calibration is not None else None
            hint = calibrate_hint(parsed.router, config=self.config, dataset=dataset)
            raise RequestError(
                f"model '{model}' asks for a share of strong calls, but {where}; "
                f"run `{hint}` and restart the server, or use a raw threshold",
                param="model",
                code="model_not_found",
            )
        assert parsed.strong_share is not None  # a name without a threshold has a share
        try:
            threshold = calibration.router(parsed.router).threshold(parsed.strong_share)
        except ConfigError as exc:
            raise RequestError(str(exc), param="model", code="model_not_found") from None
        resolved = parsed.with_threshold(threshold)
        if len(self._resolved) < 10_000:  # bounded: names come from clients
            self._resolved[model] = resolved
        return resolved

    def _decide(self, parsed: RouterModel, prompt: str) -> Decision:
        if self.ladder is not None:
            start = time.perf_counter()
            name = parsed.router
            router = self.routers[name]
            assert parsed.threshold is not None  # resolved from the calibration before scoring
            if self._ladder_fallback[name]:  # a two-model router: its win rate, up the price ladder
                win_rate = router.calculate_strong_win_rate(prompt)
                chosen = self._decide_fallback(win_rate, parsed.threshold, self.ladder, self._relative_costs)
            else:
                scores = self._score_one(router, prompt, self.ladder.names, False)
                chosen = self._decide_row(scores, parsed.threshold, self.ladder, self._relative_costs)
            seconds = time.perf_counter() - start
            return Decision(chosen.model, parsed.router, parsed.threshold, chosen.quality, seconds, chosen.fallbacks)
        start = time.perf_counter()
        win_rate = float(self.routers[parsed.router].calculate_strong_win_rate(prompt))
        seconds = time.perf_counter() - start
        assert parsed.threshold is not None  # resolved from the calibration before scoring
        model = choose_model(win_rate, [parsed.threshold], self.models.tiers)
        return Decision(model, parsed.router, parsed.threshold, win_rate, seconds)

    def decide(self, model: Any, messages: Any) -> Decision:
        """Route a request on the calling thread."""
        parsed = self.parse(model)
        if parsed is None:
            check_messages(messages)
            return Decision(model)
        return self._decide(parsed, routing_prompt(messages, self.routing_input))

    async def adecide(self, model: Any, messages: Any) -> Decision:
        """Route a request without blocking the event loop (inline only for ``inline`` routers)."""
        parsed = self.parse(model)
        if parsed is None:
            check_messages(messages)
            return Decision(model)
        prompt = routing_prompt(messages, self.routing_input)
        if self._inline[parsed.router]:
            return self._decide(parsed, prompt)
        if self.batching is not None and self.ladder is None:  # N-model routing scores one prompt at a time
            win_rate, seconds = await self.batcher(parsed.router).score(prompt)
            assert parsed.threshold is not None  # resolved from the calibration before scoring
            model = choose_model(win_rate, [parsed.threshold], self.models.tiers)
            return Decision(model, parsed.router, parsed.threshold, win_rate, seconds)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._decide, parsed, prompt)

    def batcher(self, router: str) -> MicroBatcher:
        """The micro-batcher of ``router`` on the running event loop (made on first use)."""
        batcher = self._batchers.get(router)
        if batcher is None or batcher.loop is not asyncio.get_running_loop():
            batcher = MicroBatcher(self.router(router), self.executor, self.batching or BatchingConfig())
            self._batchers[router] = batcher
        return batcher

    def route(self, prompt: str, router: str, threshold: float) -> str:
        """The model ``router`` picks for ``prompt`` at ``threshold``."""
        if self.ladder is not None:
            from routellm.multi_model import decide, model_scores
            from routellm.routing import check_threshold

            scores = model_scores(self.router(router), [prompt], self.ladder.names)[0]
            return decide(scores, check_threshold(threshold), self.ladder).model
        return self.router(router).route(prompt, threshold, self.models)

    def batch_calculate_win_rate(self, prompts: Sequence[str], router: str):
        """Strong win rates for ``prompts`` as a float64 array."""
        return self.router(router).batch_calculate_win_rate(list(prompts))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        for router in self.routers.values():
            router.close()
