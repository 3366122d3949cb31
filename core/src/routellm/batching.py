"""Cross-request micro-batching: concurrent requests for one router scored in one batch.

The server's event loop hands each prompt to the router's :class:`MicroBatcher`. A prompt that finds
the router idle (nothing scoring, nothing queued) is sent to a worker thread at once, alone: an idle
server adds no wait. Prompts that arrive while a batch is scoring queue up and go together, in one
``batch_calculate_win_rate`` call, as soon as a scoring slot frees (up to ``max_batch`` per call).
With ``concurrency`` > 1, a prompt that finds a free slot while another batch is still scoring
waits at most ``max_wait_ms`` (or until ``max_batch`` prompts are queued) for batch-mates.

Works for any router: learned routers vectorise ``batch_calculate_win_rate``; the base class's
default scores one prompt after the other, which is still correct. When a batch raises, its
prompts are scored one by one so that one bad prompt fails only its own request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from routellm.router import Router


class BatchingConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``server.batching``: how the server groups concurrent requests for one router."""

    #: Score concurrent requests for one router in one batch. Off by default: on a CPU encoder a batch costs
    #: at least the sum of its prompts, and measured throughput was lower with it (docs/benchmarks.md); turn it
    #: on for routers whose batches are much cheaper than their prompts one by one (GPU, network embedders).
    enabled: bool = False
    #: Most prompts in one batch.
    max_batch: int = 16
    #: Longest a prompt waits for batch-mates when a scoring slot is free but the router is busy
    #: (only with ``concurrency`` > 1; an idle router never waits).
    max_wait_ms: float = 2.0
    #: Batches of one router scoring at the same time (1 suits CPU encoders; more suits network embedders).
    concurrency: int = 1

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError(f"server.batching.max_batch must be at least 1, got {self.max_batch}")
        if self.max_wait_ms < 0:
            raise ValueError(f"server.batching.max_wait_ms must be 0 or more, got {self.max_wait_ms}")
        if self.concurrency < 1:
            raise ValueError(f"server.batching.concurrency must be at least 1, got {self.concurrency}")


class BatchStats(msgspec.Struct):
    """Counters a batcher keeps (read by tests and benchmarks)."""

    batches: int = 0
    prompts: int = 0
    largest: int = 0


class _Pending(msgspec.Struct):
    prompt: str
    future: asyncio.Future
    queued: float


class MicroBatcher:
    """Groups the prompts of concurrent requests for ``router`` into batches on ``executor``.

    Must be used from one event loop (the one running when it was made). :meth:`score` returns the
    win rate and the seconds the request spent waiting and scoring.
    """

    def __init__(
        self,
        router: Router,
        executor: Executor,
        config: BatchingConfig = BatchingConfig(),  # noqa: B008 - frozen struct
        *,
        score: Callable[[Sequence[str]], Sequence[float]] | None = None,
    ) -> None:
        self.router = router
        self.executor = executor
        self.config = config
        self._score = score or router.batch_calculate_win_rate
        self.loop = asyncio.get_running_loop()
        self._queue: list[_Pending] = []
        self._running = 0
        self._timer: asyncio.TimerHandle | None = None
        self.stats = BatchStats()

    async def score(self, prompt: str) -> tuple[float, float]:
        """The strong win rate for ``prompt`` and the seconds it took (queueing included)."""
        start = time.perf_counter()
        future = self.loop.create_future()
        self._queue.append(_Pending(prompt, future, start))
        self._pump(arrival=True)
        win_rate = await future
        return win_rate, time.perf_counter() - start

    def _pump(self, *, arrival: bool = False) -> None:
        """Start as many batches as the queue and the free slots allow."""
        cfg = self.config
        while self._queue and self._running < cfg.concurrency:
            idle = self._running == 0
            full = len(self._queue) >= cfg.max_batch
            if arrival and not idle and not full and cfg.max_wait_ms > 0:
                # A slot is free but the router is busy: give batch-mates a moment to arrive.
                if self._timer is None:
                    self._timer = self.loop.call_later(cfg.max_wait_ms / 1000, self._on_timer)
                return
            self._start(self._queue[: cfg.max_batch])
            del self._queue[: cfg.max_batch]
        if not self._queue and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        self._timer = None
        self._pump()

    def _start(self, batch: list[_Pending]) -> None:
        self._running += 1
        self.stats.batches += 1
        self.stats.prompts += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        prompts = [item.prompt for item in batch]
        task = self.loop.run_in_executor(self.executor, self._run, prompts)
        task.add_done_callback(lambda done: self._finish(batch, done))

    def _run(self, prompts: list[str]) -> list[float | BaseException]:
        """Score one batch on a worker thread; when it raises, score each prompt alone."""
        try:
            values = self._score(prompts)
            if len(values) != len(prompts):
                raise ValueError(
                    f"{type(self.router).__name__}.batch_calculate_win_rate returned {len(values)} "
                    f"win rates for {len(prompts)} prompts"
                )
            return [float(v) for v in values]
        except Exception as exc:
            if len(prompts) == 1:
                return [exc]
        results: list[float | BaseException] = []
        for prompt in prompts:
            try:
                results.append(float(self._score([prompt])[0]))
            except Exception as exc:  # noqa: PERF203 - isolate the failing prompt
                results.append(exc)
        return results

    def _finish(self, batch: list[_Pending], done: asyncio.Future) -> None:
        self._running -= 1
        try:
            results = done.result()
        except BaseException as exc:  # executor shut down, cancelled
            results = [exc] * len(batch)
        for item, result in zip(batch, results, strict=True):
            if item.future.done():
                continue
            if isinstance(result, BaseException):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)
        self._pump()
