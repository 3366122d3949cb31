"""Typed records that plugin hooks yield, and that the registry hands out."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from routellm.benchmark import Benchmark
    from routellm.embedder import Embedder
    from routellm.router import Router


def resolve(ref: Any) -> Any:
    """A class given directly, or as a lazy ``"package.module:Class"`` reference (imported now)."""
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


class _Loadable:
    """``load()`` for records whose class field may be a lazy reference."""

    _class_field: ClassVar[str]
    name: str

    def load(self) -> Any:
        """The class (imported now when the record holds a ``"module:Class"`` string)."""
        ref = getattr(self, self._class_field)
        try:
            cls = resolve(ref)
        except (ImportError, AttributeError) as exc:
            from routellm.errors import PluginError

            source = getattr(self, "distribution", None) or "?"
            raise PluginError(f"'{self.name}' from {source}: cannot load {ref!r}: {exc}") from exc
        if not getattr(cls, "name", ""):
            cls.name = self.name
        return cls


@dataclass(frozen=True)
class RouterSpec(_Loadable):
    """A router a plugin provides: the name users type (``router-<name>-<threshold>``) and its class.

    The class may be given as ``"package.module:Class"`` so heavy modules load only when it is used.
    """

    _class_field: ClassVar[str] = "router_class"
    name: str
    router_class: type[Router] | str
    description: str = ""
    #: Filled in by the registry: the distribution (``pip`` name) and version that provided it.
    distribution: str | None = field(default=None, compare=False)
    version: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class BenchmarkSpec(_Loadable):
    """A benchmark a plugin provides: its name (``routellm eval --benchmark <name>``) and class."""

    _class_field: ClassVar[str] = "benchmark_class"
    name: str
    benchmark_class: type[Benchmark] | str
    description: str = ""
    distribution: str | None = field(default=None, compare=False)
    version: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class EmbedderSpec(_Loadable):
    """A prompt embedder a plugin provides: its name (``embedder: {name: ...}`` in a config) and class."""

    _class_field: ClassVar[str] = "embedder_class"
    name: str
    embedder_class: type[Embedder] | str
    description: str = ""
    distribution: str | None = field(default=None, compare=False)
    version: str | None = field(default=None, compare=False)
