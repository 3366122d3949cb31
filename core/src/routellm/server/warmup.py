"""Readiness: every router scores a warm-up prompt when the server starts, not on the first request.

Inline routers (cheap, e.g. ``random``) warm up before the lifespan yields; the others (torch models,
embedders: seconds each) in the router threads while the server already answers ``/health`` with 503
(``warming_up``). Each router's load and warm-up times are logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger("routellm.server")

#: What each router scores once at start-up.
WARMUP_PROMPT = "Warm-up: what is 2 + 2?"


def _score(state: Any, name: str) -> float:
    start = time.perf_counter()
    state.engine.routers[name].calculate_strong_win_rate(WARMUP_PROMPT)
    return time.perf_counter() - start


def _done(state: Any, name: str, seconds: float) -> None:
    state.warming.discard(name)
    loaded = state.engine.load_seconds.get(name)
    load = f"loaded in {loaded:.2f} s, " if loaded is not None else ""
    log.info("router '%s' ready: %swarm-up prompt scored in %.3f s", name, load, seconds)


def _failed(state: Any, name: str, exc: BaseException) -> None:
    state.warmup_error = f"router '{name}' failed its warm-up: {type(exc).__name__}: {exc}"
    log.error("%s; /health stays 503", state.warmup_error)


async def warm_up(state: Any) -> asyncio.Task | None:
    """Warm up inline routers now, the rest in a background task (returned, to cancel at shutdown)."""
    engine = state.engine
    slow = []
    for name in list(state.warming):
        if not engine.is_inline(name):
            slow.append(name)
            continue
        try:
            _done(state, name, _score(state, name))
        except Exception as exc:
            _failed(state, name, exc)
    if not slow:
        return None
    loop = asyncio.get_running_loop()

    async def run() -> None:
        for name in slow:
            try:
                seconds = await loop.run_in_executor(engine.executor, _score, state, name)
            except Exception as exc:
                _failed(state, name, exc)
            else:
                _done(state, name, seconds)

    return asyncio.ensure_future(run())
