"""The registry: the only code that calls plugin hooks.

It collects the typed records plugins yield, stamps them with the distribution that provided
them, rejects duplicate names, and builds routers, benchmarks and embedders from config sections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from routellm.errors import PluginError, UnknownNameError
from routellm.records import BenchmarkSpec, EmbedderSpec, RouterSpec

if TYPE_CHECKING:
    import typer

    from routellm.benchmark import Benchmark
    from routellm.embedder import Embedder
    from routellm.plugins import PluginManager
    from routellm.router import Router

S = TypeVar("S", RouterSpec, BenchmarkSpec, EmbedderSpec)


class Registry:
    """Typed access to what the installed plugins provide."""

    def __init__(self, pm: PluginManager) -> None:
        self.pm = pm

    @cached_property
    def routers(self) -> dict[str, RouterSpec]:
        """Router specs by name."""
        return self._collect("routellm_routers", RouterSpec, "router")

    @cached_property
    def benchmarks(self) -> dict[str, BenchmarkSpec]:
        """Benchmark specs by name."""
        return self._collect("routellm_benchmarks", BenchmarkSpec, "benchmark")

    @cached_property
    def embedders(self) -> dict[str, EmbedderSpec]:
        """Embedder specs by name."""
        return self._collect("routellm_embedders", EmbedderSpec, "embedder")

    def router(self, name: str) -> RouterSpec:
        return _lookup(self.routers, name, "router")

    def benchmark(self, name: str) -> BenchmarkSpec:
        return _lookup(self.benchmarks, name, "benchmark")

    def embedder(self, name: str) -> EmbedderSpec:
        return _lookup(self.embedders, name, "embedder")

    def create_router(self, name: str, section: Mapping[str, Any] | None = None) -> Router:
        """Build router ``name`` from its config section."""
        spec = self.router(name)
        return spec.router_class.from_config(section, name=name)

    def create_benchmark(self, name: str, section: Mapping[str, Any] | None = None) -> Benchmark:
        """Build benchmark ``name`` from its config section."""
        spec = self.benchmark(name)
        return spec.benchmark_class.from_config(section, name=name)

    def create_embedder(self, name: str, section: Mapping[str, Any] | None = None) -> Embedder:
        """Build embedder ``name`` from its config section."""
        spec = self.embedder(name)
        return spec.embedder_class.from_config(section, name=name)

    def register_commands(self, cli: typer.Typer, train: typer.Typer) -> None:
        """Let plugins add commands to the CLI and to ``routellm train``."""
        self.pm.hook.routellm_register_commands(cli=cli, train=train)

    def _collect(self, hook_name: str, record_type: type[S], kind: str) -> dict[str, S]:
        found: dict[str, S] = {}
        caller = getattr(self.pm.hook, hook_name)
        # Call implementations one by one so every record is stamped with its distribution.
        for impl in reversed(caller.get_hookimpls()):
            info = self.pm.info_for(impl.plugin)
            records = impl.function()
            for record in _as_iterable(records, impl.plugin_name, hook_name):
                if not isinstance(record, record_type):
                    raise PluginError(
                        f"plugin {impl.plugin_name!r} ({info.distribution or '?'}) yielded "
                        f"{type(record).__name__} from {hook_name}, expected {record_type.__name__}"
                    )
                record = replace(record, distribution=info.distribution, version=info.version)
                if record.name in found:
                    other = found[record.name]
                    raise PluginError(
                        f"two plugins provide a {kind} named '{record.name}': "
                        f"{other.distribution or '?'} and {record.distribution or '?'}; "
                        f"uninstall one of them or disable it with ROUTELLM_DISABLE_PLUGINS"
                    )
                cls = getattr(record, f"{kind}_class")
                if not getattr(cls, "name", ""):
                    cls.name = record.name
                found[record.name] = record
        return dict(sorted(found.items()))


def _as_iterable(records: Any, plugin: str, hook: str) -> Iterable[Any]:
    if records is None:
        return ()
    if isinstance(records, RouterSpec | BenchmarkSpec | EmbedderSpec):
        return (records,)
    try:
        return list(records)
    except TypeError:
        raise PluginError(f"plugin {plugin!r}: {hook} must yield records, returned {type(records).__name__}") from None


def _lookup(table: Mapping[str, S], name: str, kind: str) -> S:
    try:
        return table[name]
    except KeyError:
        choices = ", ".join(table) or "none installed"
        raise UnknownNameError(f"unknown {kind} '{name}' (available: {choices})") from None


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The registry over the process's plugin manager."""
    from routellm.plugins import get_plugin_manager

    return Registry(get_plugin_manager())
