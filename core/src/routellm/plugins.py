"""The plugin manager: built on first use, loads the ``routellm`` entry points, skips broken plugins."""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points

import pluggy

from routellm import hookspecs

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "routellm"
#: Set to ``1``/``all`` to load no external plugins, or to a comma-separated list of entry point
#: names (or distribution names) to skip just those.
DISABLE_ENV = "ROUTELLM_DISABLE_PLUGINS"
#: Modules inside routellm that implement hooks; registered before any entry point.
BUILTIN_PLUGINS: tuple[str, ...] = ()


@dataclass(frozen=True)
class PluginInfo:
    """Where a registered plugin came from."""

    name: str
    distribution: str | None
    version: str | None
    builtin: bool = False


@dataclass(frozen=True)
class PluginFailure:
    """An entry point that could not be loaded, and why."""

    name: str
    distribution: str | None
    error: str


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus provenance: which distribution each plugin came from."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.info: dict[int, PluginInfo] = {}
        self.failures: list[PluginFailure] = []

    def register_plugin(self, plugin: object, info: PluginInfo) -> None:
        """Register ``plugin`` and remember where it came from."""
        if self.is_registered(plugin):
            return
        self.register(plugin, name=info.name)
        self.info[id(plugin)] = info

    def info_for(self, plugin: object) -> PluginInfo:
        """Provenance of a registered plugin."""
        return self.info.get(id(plugin), PluginInfo(name=self.get_name(plugin) or "?", distribution=None, version=None))

    def load_builtins(self) -> None:
        from routellm import __version__

        for module_name in BUILTIN_PLUGINS:
            module = importlib.import_module(module_name)
            self.register_plugin(module, PluginInfo(module_name, "routellm-core", __version__, builtin=True))

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every entry point of ``group``; log and skip any that fails to import."""
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
            if self.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take the others down
                message = f"{type(exc).__name__}: {exc}"
                logger.warning("skipping plugin %r from %s: %s", ep.name, dist or "?", message)
                self.failures.append(PluginFailure(ep.name, dist, message))
                continue
            self.register_plugin(plugin, PluginInfo(ep.name, dist, version))


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
