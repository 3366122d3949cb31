"""Typed records that plugin hooks yield, and that the registry hands out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routellm.benchmark import Benchmark
    from routellm.embedder import Embedder
    from routellm.router import Router


@dataclass(frozen=True)
class RouterSpec:
    """A router a plugin provides: the name users type (``router-<name>-<threshold>``) and its class."""

    name: str
    router_class: type[Router]
    description: str = ""
    #: Filled in by the registry: the distribution (``pip`` name) and version that provided it.
    distribution: str | None = field(default=None, compare=False)
    version: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class BenchmarkSpec:
    """A benchmark a plugin provides: its name (``routellm eval --benchmark <name>``) and class."""

    name: str
    benchmark_class: type[Benchmark]
    description: str = ""
    distribution: str | None = field(default=None, compare=False)
    version: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class EmbedderSpec:
    """A prompt embedder a plugin provides: its name (``embedder: {name: ...}`` in a config) and class."""

    name: str
    embedder_class: type[Embedder]
    description: str = ""
    distribution: str | None = field(default=None, compare=False)
    version: str | None = field(default=None, compare=False)
