"""Server metrics in the Prometheus text format (``GET /metrics``).

A few counters and histograms kept in plain dicts: recording costs a dict update, so it stays off
the latency budget. Labels are router and model names only, never keys or URLs.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

ROUTING_BUCKETS = (1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
UPSTREAM_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: tuple[str, ...], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Counter:
    def __init__(self, name: str, help: str, labels: tuple[str, ...]) -> None:
        self.name, self.help, self.label_names = name, help, labels
        self.values: defaultdict[tuple[str, ...], float] = defaultdict(float)

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self.values[labels] += amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for key, value in sorted(self.values.items()):
            lines.append(f"{self.name}{_labels(self.label_names, key)} {value:g}")
        return lines


class Histogram:
    def __init__(self, name: str, help: str, labels: tuple[str, ...], buckets: tuple[float, ...]) -> None:
        self.name, self.help, self.label_names, self.buckets = name, help, labels, buckets
        # per label set: [count per bucket..., +Inf count], sum
        self.counts: dict[tuple[str, ...], list[int]] = {}
        self.sums: defaultdict[tuple[str, ...], float] = defaultdict(float)

    def observe(self, value: float, *labels: str) -> None:
        counts = self.counts.get(labels)
        if counts is None:
            counts = self.counts[labels] = [0] * (len(self.buckets) + 1)
        counts[bisect_left(self.buckets, value)] += 1
        self.sums[labels] += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, counts in sorted(self.counts.items()):
            total = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                total += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                extra = 'le="' + le + '"'
                lines.append(f"{self.name}_bucket{_labels(self.label_names, key, extra)} {total}")
            lines.append(f"{self.name}_sum{_labels(self.label_names, key)} {self.sums[key]:.9g}")
            lines.append(f"{self.name}_count{_labels(self.label_names, key)} {total}")
        return lines


class ServerMetrics:
    """The metrics one server process keeps."""

    def __init__(self) -> None:
        self.requests = Counter(
            "routellm_requests_total",
            "Chat completion requests by router, routed model and HTTP status returned.",
            ("router", "model", "status"),
        )
        self.routing_seconds = Histogram(
            "routellm_routing_seconds",
            "Time to score a prompt and pick a model.",
            ("router",),
            ROUTING_BUCKETS,
        )
        self.upstream_seconds = Histogram(
            "routellm_upstream_seconds",
            "Time until the upstream answered (headers; first chunk for streams).",
            ("model",),
            UPSTREAM_BUCKETS,
        )
        self.upstream_errors = Counter(
            "routellm_upstream_errors_total",
            "Failed upstream attempts (before retries and fallback) by model and kind.",
            ("model", "kind"),
        )
        self.fallbacks = Counter(
            "routellm_fallbacks_total",
            "Requests answered by the other model after the routed one failed.",
            ("from_model", "to_model"),
        )
        self.tokens = Counter(
            "routellm_tokens_total",
            "Tokens reported in upstream 'usage', by model and type.",
            ("model", "type"),
        )
        self.spend = Counter(
            "routellm_spend_usd_total",
            "Spend in USD by model, from upstream 'usage' and the configured prices (models with a price only).",
            ("model",),
        )
        #: Configured prices by model name (USD per 1M tokens), for ``spend``.
        self.prices: dict = {}
        self.all = (
            self.requests,
            self.routing_seconds,
            self.upstream_seconds,
            self.upstream_errors,
            self.fallbacks,
            self.tokens,
            self.spend,
        )

    def add_spend(self, model: str, prompt_tokens: float, completion_tokens: float) -> None:
        """Count the USD a call cost at ``model``'s configured price (nothing when it has none)."""
        price = self.prices.get(model)
        if price is not None:
            self.spend.inc(model, amount=price.cost(prompt_tokens, completion_tokens))

    def add_usage(self, model: str, usage: dict | None) -> None:
        if not isinstance(usage, dict):
            return
        for kind in ("prompt_tokens", "completion_tokens"):
            value = usage.get(kind)
            if isinstance(value, int | float) and value >= 0:
                self.tokens.inc(model, kind.removesuffix("_tokens"), amount=float(value))

    def render(self) -> str:
        lines: list[str] = []
        for metric in self.all:
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"
