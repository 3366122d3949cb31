"""The plugin manager: built on first use, loads the ``routellm`` entry points, keeps plugins apart.

A plugin that fails to import, or a hook implementation that raises (or yields the wrong records)
when called, is logged, listed under failures by ``routellm plugins`` and skipped: the other
plugins, and every command, keep working. Hooks are always called through pluggy, so hook
wrappers and ``pm.trace`` see every call.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

import pluggy

from routellm import hookspecs
from routellm.records import BenchmarkSpec, EmbedderSpec, RouterSpec

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "routellm"
#: Set to ``1``/``all`` to load no external plugins, or to a comma-separated list of entry point
#: names (or distribution names) to skip just those.
DISABLE_ENV = "ROUTELLM_DISABLE_PLUGINS"
#: Modules inside routellm that implement hooks; registered before any entry point.
BUILTIN_PLUGINS: tuple[str, ...] = ()
#: The record type each component hook yields.
RECORD_TYPES: dict[str, type] = {
    "routellm_routers": RouterSpec,
    "routellm_benchmarks": BenchmarkSpec,
    "routellm_embedders": EmbedderSpec,
}


@dataclass(frozen=True)
class PluginInfo:
    """Where a registered plugin came from."""

    name: str
    distribution: str | None
    version: str | None
    builtin: bool = False
    #: The entry point's name (``name`` differs when two distributions use the same one).
    entry_point: str | None = None


@dataclass(frozen=True)
class PluginFailure:
    """A plugin (or one of its hooks) that could not be used, and why."""

    name: str
    distribution: str | None
    error: str
    #: The hook that failed; ``None`` when the plugin failed to import.
    hook: str | None = None


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus provenance (which distribution each plugin came from) and isolation:
    each hook implementation runs guarded, so one that raises is recorded and skipped."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.info: dict[int, PluginInfo] = {}
        self.failures: list[PluginFailure] = []

    def register_plugin(self, plugin: object, info: PluginInfo) -> None:
        """Register ``plugin`` and remember where it came from."""
        if self.is_registered(plugin):
            return
        self.info[id(plugin)] = info
        try:
            self.register(plugin, name=info.name)
        except Exception:
            del self.info[id(plugin)]
            raise

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        """pluggy's ``register``; every new (non-wrapper) hook implementation is guarded."""
        registered = super().register(plugin, name)
        for caller in self.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not (impl.hookwrapper or impl.wrapper):
                    impl.function = self._guard(caller.name, impl.function, plugin)  # pyright: ignore
        return registered

    def info_for(self, plugin: object) -> PluginInfo:
        """Provenance of a registered plugin."""
        return self.info.get(id(plugin), PluginInfo(name=self.get_name(plugin) or "?", distribution=None, version=None))

    def _guard(self, hook: str, function: Any, plugin: object) -> Any:
        record_type = RECORD_TYPES.get(hook)

        def guarded(*args: Any) -> Any:
            info = self.info_for(plugin)
            try:
                result = function(*args)
                if record_type is None:
                    return result
                return _stamped(result, record_type, hook, info)
            except Exception as exc:  # one plugin's bug must not take the others down
                message = f"{type(exc).__name__}: {exc}"
                logger.warning("skipping %s of plugin %r from %s: %s", hook, info.name, info.distribution or "?", message)
                self.failures.append(PluginFailure(info.name, info.distribution, message, hook=hook))
                return None

        guarded.__wrapped__ = function  # type: ignore[attr-defined]
        return guarded

    def load_builtins(self) -> None:
        from routellm import __version__

        for module_name in BUILTIN_PLUGINS:
            module = importlib.import_module(module_name)
            self.register_plugin(module, PluginInfo(module_name, "routellm-core", __version__, builtin=True))

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every entry point of ``group``; log and skip any that fails to import.

        Two distributions may use the same entry point name: both are loaded (the second is
        registered as ``<name>@<distribution>``) and the clash is logged.
        """
        disabled = _disabled()
        if disabled == {"*"}:
            logger.debug("external plugins disabled by %s", DISABLE_ENV)
            return
        for ep in entry_points(group=group):
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else None
            if ep.name in disabled or (dist and dist in disabled):
                logger.debug("plugin %s disabled by %s", ep.name, DISABLE_ENV)
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take the others down
                message = f"{type(exc).__name__}: {exc}"
                logger.warning("skipping plugin %r from %s: %s", ep.name, dist or "?", message)
                self.failures.append(PluginFailure(ep.name, dist, message))
                continue
            if self.is_registered(plugin):  # the same module reached twice (e.g. one dist on sys.path twice)
                continue
            name = ep.name
            other = self.get_plugin(name)
            if other is not None:
                name = f"{ep.name}@{dist or '?'}"
                logger.info(
                    "entry point name %r is used by %s and %s; registering the second as %r",
                    ep.name, self.info_for(other).distribution or "?", dist or "?", name,
                )
                if self.get_plugin(name) is not None:
                    continue
            self.register_plugin(plugin, PluginInfo(name, dist, version, entry_point=ep.name))


def _stamped(result: Any, record_type: type, hook: str, info: PluginInfo) -> list[Any]:
    """The records a component hook returned, as a list stamped with the plugin's distribution."""
    if result is None:
        return []
    records: Iterable[Any] = (result,) if isinstance(result, RouterSpec | BenchmarkSpec | EmbedderSpec) else result
    try:
        records = list(records)
    except TypeError:
        raise TypeError(f"{hook} must yield records, returned {type(result).__name__}") from None
    out = []
    for record in records:
        if not isinstance(record, record_type):
            raise TypeError(f"yielded {type(record).__name__} from {hook}, expected {record_type.__name__}")
        out.append(replace(record, distribution=info.distribution, version=info.version))
    return out


def _disabled() -> set[str]:
    value = os.environ.get(DISABLE_ENV, "").strip()
    if not value or value.lower() in {"0", "false", "no"}:
        return set()
    if value.lower() in {"1", "true", "yes", "all", "*"}:
        return {"*"}
    return {part.strip() for part in value.split(",") if part.strip()}


@lru_cache(maxsize=1)
def get_plugin_manager() -> PluginManager:
    """The process's plugin manager, built (built-ins, then entry points) on first use."""
    pm = PluginManager()
    pm.load_builtins()
    pm.load_entry_points()
    return pm
