"""Cross-request micro-batching: same results as unbatched, no wait when idle, bounded wait, cache."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import msgspec
import numpy as np
import pytest

from routellm.batching import BatchingConfig, MicroBatcher
from routellm.embedder import Embedder
from routellm.engine import RoutingEngine
from routellm.router import Router
from routellm.routing import ModelPair

MODELS = ModelPair(strong="big", weak="small")


class Vectorised(Router):
    """Win rate = a hash of the prompt; records each batch; the first batch can be held on a gate."""

    def __init__(self, gate: threading.Event | None = None):
        super().__init__()
        self.batches: list[list[str]] = []
        self.gate = gate

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return float(self.batch_calculate_win_rate([prompt])[0])

    def batch_calculate_win_rate(self, prompts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(prompts))
        if self.gate is not None and len(self.batches) == 1:
            assert self.gate.wait(5)
        if any(p == "bad" for p in prompts):
            raise ValueError("cannot score 'bad'")
        return np.array([(sum(map(ord, p)) % 97) / 96 for p in prompts])


class OnlyOneByOne(Router):
    """A third-party router with just RouteLLM's one method."""

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return len(prompt) / 100


def message(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


async def fire(engine: RoutingEngine, router: str, prompts: list[str], threshold: float = 0.5):
    return await asyncio.gather(*(engine.adecide(f"router-{router}-{threshold}", message(p)) for p in prompts))


PROMPTS = [f"prompt number {i} " + "x" * (i % 7) for i in range(40)]


def test_concurrent_requests_share_batches_and_match_unbatched():
    gate = threading.Event()
    router = Vectorised(gate)
    engine = RoutingEngine({"v": router, "one": OnlyOneByOne()}, MODELS, batching=BatchingConfig(enabled=True, max_batch=16))

    async def main():
        first = asyncio.create_task(engine.adecide("router-v-0.5", message("first")))
        await asyncio.sleep(0.05)  # "first" is scoring alone, held on the gate
        rest = asyncio.create_task(fire(engine, "v", PROMPTS))
        await asyncio.sleep(0.05)  # the rest queue behind it
        gate.set()
        return [await first, *await rest], await fire(engine, "one", PROMPTS)

    batched, third_party = asyncio.run(main())
    sizes = [len(b) for b in router.batches]
    assert sizes == [1, 16, 16, 8]  # the idle request alone, then the queue in batches of max_batch
    assert engine.batcher  # noqa: B018
    reference = RoutingEngine({"v": Vectorised(), "one": OnlyOneByOne()}, MODELS)  # no batching
    for decision, prompt in zip(batched, ["first", *PROMPTS], strict=True):
        assert decision == msgspec.structs.replace(reference.decide("router-v-0.5", message(prompt)),
                                                   seconds=decision.seconds)
    assert [d.win_rate for d in third_party] == [len(p) / 100 for p in PROMPTS]
    engine.close()


def test_idle_request_does_not_wait():
    router = Vectorised()

    async def main():
        executor = ThreadPoolExecutor(2)
        batcher = MicroBatcher(router, executor, BatchingConfig(max_wait_ms=10_000, concurrency=2))
        task = asyncio.create_task(batcher.score("alone"))
        await asyncio.sleep(0)  # one loop turn: the request is already with a worker
        assert batcher.stats.batches == 1
        start = time.perf_counter()
        await task
        executor.shutdown()
        return time.perf_counter() - start

    assert asyncio.run(main()) < 1.0  # far below max_wait_ms


def test_wait_for_batch_mates_is_bounded():
    gate = threading.Event()
    router = Vectorised(gate)

    async def main():
        executor = ThreadPoolExecutor(4)
        batcher = MicroBatcher(router, executor, BatchingConfig(max_wait_ms=50, concurrency=2, max_batch=3))
        held = asyncio.create_task(batcher.score("held"))  # idle: scores at once, then blocks on the gate
        await asyncio.sleep(0.02)
        start = time.perf_counter()
        second = await batcher.score("second")  # a slot is free: waits <= 50 ms for batch-mates, then goes
        waited = time.perf_counter() - start
        # max_batch prompts queued: they go at once, without the 10 s wait
        batcher.config = BatchingConfig(max_wait_ms=10_000, concurrency=3, max_batch=3)
        start = time.perf_counter()
        full = await asyncio.gather(*(batcher.score(p) for p in ("a", "b", "c")))
        full_wait = time.perf_counter() - start
        assert not held.done()
        gate.set()
        await held
        executor.shutdown()
        return second, waited, full, full_wait

    second, waited, full, full_wait = asyncio.run(main())
    assert 0.04 <= waited < 2.0
    assert full_wait < 2.0 and len(full) == 3
    assert [len(b) for b in router.batches] == [1, 1, 3]


def test_a_failing_prompt_fails_only_its_request():
    router = Vectorised()
    engine = RoutingEngine({"v": router}, MODELS, batching=BatchingConfig(enabled=True))

    async def main():
        gate_task = asyncio.gather(*(engine.adecide("router-v-0.5", message(p)) for p in ["ok", "bad", "fine", "bad"]),
                                   return_exceptions=True)
        return await gate_task

    results = asyncio.run(main())
    assert isinstance(results[1], ValueError) and isinstance(results[3], ValueError)
    assert results[0].win_rate == pytest.approx((sum(map(ord, "ok")) % 97) / 96)
    assert results[2].model in MODELS.tiers
    engine.close()


class CountingEmbedder(Embedder):
    """Counts the texts it really embeds (cache misses)."""

    def __init__(self):
        super().__init__(cache_size=100)
        self.embedded: list[str] = []

    @property
    def dim(self) -> int:
        return 2

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return np.array([[len(t), 1.0] for t in texts])


class Embedding(Router):
    def __init__(self):
        super().__init__()
        self.embedder = CountingEmbedder()

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return float(self.batch_calculate_win_rate([prompt])[0])

    def batch_calculate_win_rate(self, prompts: Sequence[str]) -> np.ndarray:
        vectors = self.embedder.embed(prompts)
        return vectors[:, 0].astype(np.float64)


def test_prompt_cache_still_serves_hits():
    router = Embedding()
    engine = RoutingEngine({"e": router}, MODELS, batching=BatchingConfig(enabled=True))

    async def main():
        first = await fire(engine, "e", ["same", "same", "other", "same"])
        again = await fire(engine, "e", ["same", "other"])
        return first, again

    first, again = asyncio.run(main())
    assert sorted(router.embedder.embedded) == ["other", "same"]  # duplicates and repeats were hits
    assert [d.win_rate for d in again] == [first[0].win_rate, first[2].win_rate]
    engine.close()


@pytest.mark.parametrize("batching", [None, BatchingConfig()])
def test_batching_off_scores_each_request_alone(batching):
    router = Vectorised()
    engine = RoutingEngine({"v": router}, MODELS, batching=batching)  # off unless enabled
    asyncio.run(fire(engine, "v", PROMPTS[:5]))
    assert [len(b) for b in router.batches] == [1] * 5
    engine.close()


@pytest.mark.parametrize(
    ("section", "message"),
    [({"max_batch": 0}, "max_batch must be at least 1"), ({"max_wait_ms": -1}, "max_wait_ms must be 0 or more"),
     ({"concurrency": 0}, "concurrency must be at least 1"), ({"max_wait": 2}, "max_wait")],
)
def test_bad_batching_settings_are_config_errors(section, message):
    from routellm.errors import ConfigError
    from routellm.server.settings import resolve_settings

    with pytest.raises(ConfigError, match=message):
        resolve_settings(None, {"batching": section})
