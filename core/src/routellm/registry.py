"""The registry: the only code that calls plugin hooks (always through pluggy).

It collects the typed records plugins yield (stamped by the plugin manager with the distribution
that provided them), disables a name that two distributions provide (naming both) while every other
component keeps working, and builds routers, benchmarks and embedders from config sections.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from routellm.errors import PluginError, UnknownNameError
from routellm.plugins import PluginFailure
from routellm.records import BenchmarkSpec, EmbedderSpec, RouterSpec

if TYPE_CHECKING:
    import typer

    from routellm.benchmark import Benchmark
    from routellm.embedder import Embedder
    from routellm.plugins import PluginManager
    from routellm.router import Router

logger = logging.getLogger(__name__)

S = TypeVar("S", RouterSpec, BenchmarkSpec, EmbedderSpec)


class Registry:
    """Typed access to what the installed plugins provide."""

    def __init__(self, pm: PluginManager) -> None:
        self.pm = pm
        self._conflicts: dict[tuple[str, str], list[str]] = {}

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
        return self._lookup(self.routers, name, "router")

    def benchmark(self, name: str) -> BenchmarkSpec:
        return self._lookup(self.benchmarks, name, "benchmark")

    def embedder(self, name: str) -> EmbedderSpec:
        return self._lookup(self.embedders, name, "embedder")

    def create_router(self, name: str, section: Mapping[str, Any] | None = None) -> Router:
        """Build router ``name`` from its config section."""
        return self.router(name).load().from_config(section, name=name)

    def create_benchmark(self, name: str, section: Mapping[str, Any] | None = None) -> Benchmark:
        """Build benchmark ``name`` from its config section."""
        return self.benchmark(name).load().from_config(section, name=name)

    def create_embedder(self, name: str, section: Mapping[str, Any] | None = None) -> Embedder:
        """Build embedder ``name`` from its config section."""
        return self.embedder(name).load().from_config(section, name=name)

    def register_commands(self, cli: typer.Typer, train: typer.Typer) -> None:
        """Let plugins add commands to the CLI and to ``routellm train`` (a plugin that raises is skipped)."""
        self.pm.hook.routellm_register_commands(cli=cli, train=train)

    @cached_property
    def conflicts(self) -> dict[tuple[str, str], list[str]]:
        """``(kind, name)`` -> the distributions that all provide a component of that name (disabled)."""
        _ = self.routers, self.benchmarks, self.embedders
        return self._conflicts

    def _collect(self, hook_name: str, record_type: type[S], kind: str) -> dict[str, S]:
        # pluggy returns one list per implementation, last registered first; each list is already
        # stamped with its distribution by the plugin manager's guard.
        results = getattr(self.pm.hook, hook_name)()
        found: dict[str, S] = {}
        clashes: dict[str, list[str]] = {}
        for records in reversed(results):
            for record in records or ():
                if not isinstance(record, record_type):
                    raise PluginError(f"{hook_name} returned {type(record).__name__}, expected {record_type.__name__}")
                if record.name in clashes:
                    clashes[record.name].append(record.distribution or "?")
                elif record.name in found:
                    clashes[record.name] = [found.pop(record.name).distribution or "?", record.distribution or "?"]
                else:
                    found[record.name] = record
        for name, dists in clashes.items():
            message = (
                f"two plugins provide a {kind} named '{name}': {' and '.join(dists)}; it is disabled until you "
                f"uninstall one of them or disable it with ROUTELLM_DISABLE_PLUGINS"
            )
            logger.warning("%s", message)
            self._conflicts[(kind, name)] = dists
            self.pm.failures.append(PluginFailure(f"{kind} '{name}'", ", ".join(dists), message))
        return dict(sorted(found.items()))

    def _lookup(self, table: Mapping[str, S], name: str, kind: str) -> S:
        if name not in table and (kind, name) in self._conflicts:
            dists = self._conflicts[(kind, name)]
            raise PluginError(
                f"two plugins provide a {kind} named '{name}': {' and '.join(dists)}; "
                f"uninstall one of them or disable it with ROUTELLM_DISABLE_PLUGINS"
            )
        return _lookup(table, name, kind)


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
