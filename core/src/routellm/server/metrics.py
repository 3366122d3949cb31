"""Server metrics in the Prometheus text format (``GET /metrics``), kept with ``prometheus_client``.

Each app gets its own registry (no module state). Recording costs a dict update; the sums reach
prometheus_client at each scrape and, in multiprocess mode, every second. With ``--workers N``, ``routellm serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` before the workers start: every worker then writes its values to files
there, and a scrape of any worker reads them all (prometheus_client's multiprocess mode), so totals
are right for any N. Labels are router and model names only, never keys or URLs.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from collections import defaultdict
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
ROUTING_BUCKETS = (1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
UPSTREAM_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Family:
    """A labelled prometheus_client metric. Recording is a dict update on the event loop (the old
    hand-written registry's cost); :meth:`flush` hands the sums to prometheus_client, which is what a
    scrape reads (and, in multiprocess mode, what the other workers read)."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.children: dict[tuple[str, ...], Any] = {}

    def child(self, labels: tuple[str, ...]) -> Any:
        child = self.children.get(labels)
        if child is None:
            child = self.children[labels] = self.metric.labels(*labels)
        return child


class Counter(_Family):
    def __init__(self, metric: Any) -> None:
        super().__init__(metric)
        self.pending: defaultdict[tuple[str, ...], float] = defaultdict(float)

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self.pending[labels] += amount

    def flush(self) -> None:
        pending, self.pending = self.pending, defaultdict(float)
        for labels, amount in pending.items():
            self.child(labels).inc(amount)


class Histogram(_Family):
    def __init__(self, metric: Any, buckets: tuple[float, ...]) -> None:
        super().__init__(metric)
        self.bounds = buckets
        #: Per label set: the count per bucket (the last one +Inf), then the sum.
        self.pending: dict[tuple[str, ...], list[float]] = {}

    def observe(self, value: float, *labels: str) -> None:
        entry = self.pending.get(labels)
        if entry is None:
            entry = self.pending[labels] = [0] * (len(self.bounds) + 2)
        entry[bisect_left(self.bounds, value)] += 1  # prometheus_client's rule: value <= upper bound
        entry[-1] += value

    def flush(self) -> None:
        pending, self.pending = self.pending, {}
        for labels, entry in pending.items():
            child = self.child(labels)
            # prometheus_client keeps one value per bucket and the sum; add each bucket's count at once.
            for bucket, count in zip(child._buckets, entry[:-1], strict=True):
                if count:
                    bucket.inc(count)
            child._sum.inc(entry[-1])


class ServerMetrics:
    """The metrics one server app records; :meth:`render` covers every worker in multiprocess mode."""

    def __init__(self) -> None:
        import prometheus_client
        from prometheus_client import CollectorRegistry

        prometheus_client.disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=False)
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        r = self.registry

        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(prometheus_client.Counter(name, doc, labels, registry=r))

        def histogram(name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...]) -> Histogram:
            return Histogram(prometheus_client.Histogram(name, doc, labels, registry=r, buckets=buckets), buckets)

        self.requests = counter(
            "routellm_requests_total",
            "Chat completion requests by router, routed model and HTTP status returned "
            "(499: the client went away before the answer).",
            ("router", "model", "status"),
        )
        self.routing_seconds = histogram(
            "routellm_routing_seconds", "Time to score a prompt and pick a model.", ("router",), ROUTING_BUCKETS
        )
        self.upstream_seconds = histogram(
            "routellm_upstream_seconds",
            "Time until the upstream answered (headers; first chunk for streams).",
            ("model",),
            UPSTREAM_BUCKETS,
        )
        self.upstream_errors = counter(
            "routellm_upstream_errors_total",
            "Failed upstream attempts (before retries and fallback) by model and kind.",
            ("model", "kind"),
        )
        self.fallbacks = counter(
            "routellm_fallbacks_total",
            "Requests answered by the other model after the routed one failed, by reason.",
            ("from_model", "to_model", "reason"),
        )
        self.tokens = counter(
            "routellm_tokens_total", "Tokens reported in upstream 'usage', by model and type.", ("model", "type")
        )
        self.disconnects = counter(
            "routellm_client_disconnects_total",
            "Non-streaming requests whose client went away while the upstream call ran (the call is cancelled).",
            ("model",),
        )
        self.spend = counter(
            "routellm_spend_usd_total",
            "Spend in USD by model, from upstream 'usage' and the configured prices (models with a price only).",
            ("model",),
        )
        #: Configured prices by model name (USD per 1M tokens), for ``spend``.
        self.prices: dict = {}

    @property
    def families(self) -> tuple[Counter | Histogram, ...]:
        return (
            self.requests,
            self.routing_seconds,
            self.upstream_seconds,
            self.upstream_errors,
            self.fallbacks,
            self.tokens,
            self.disconnects,
            self.spend,
        )

    def add_spend(self, model: str, prompt_tokens: float, completion_tokens: float) -> None:
        """Count the USD a call cost at ``model``'s configured price (nothing when it has none)."""
        price = self.prices.get(model)
        if price is not None:
            self.spend.inc(model, amount=price.cost(prompt_tokens, completion_tokens))

    def flush(self) -> None:
        """Hand what was recorded since the last flush to prometheus_client."""
        for family in self.families:
            family.flush()

    async def flush_every(self, seconds: float = 1.0) -> None:
        """Flush periodically (multiprocess mode: another worker may answer the scrape)."""
        while True:
            await asyncio.sleep(seconds)
            self.flush()

    def render(self) -> bytes:
        """The exposition text: this process's registry, or every worker's files in multiprocess mode."""
        from prometheus_client import CollectorRegistry, generate_latest

        self.flush()

        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
