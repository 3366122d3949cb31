"""YAML configuration.

Two shapes load:

* RouteLLM's: a top-level mapping from router name to that router's keyword arguments;
* the extended one: a top-level ``routers:`` mapping (same content) beside other sections
  (``models:``, ``server:``, ``benchmarks:``, ...), each validated by the component that owns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routellm.errors import ConfigError

if TYPE_CHECKING:
    from routellm.registry import Registry
    from routellm.router import Router

#: Top-level sections of the extended format.
SECTIONS = ("routers", "models", "server", "benchmarks", "calibration")


@dataclass(frozen=True)
class Config:
    """A loaded configuration: router sections plus the other top-level sections, raw."""

    routers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "config"

    def router_section(self, name: str) -> dict[str, Any]:
        """The keyword arguments for router ``name`` (empty when the config has none)."""
        return dict(self.routers.get(name) or {})

    def section(self, name: str) -> Any:
        """A raw top-level section of the extended format (``None`` when absent)."""
        return self.sections.get(name)

    def create_router(self, name: str, registry: Registry | None = None) -> Router:
        """Build router ``name`` from its section; errors name this file."""
        if registry is None:
            from routellm.registry import get_registry

            registry = get_registry()
        spec = registry.router(name)
        try:
            return spec.load().from_config(self.router_section(name), name=name)
        except ConfigError as exc:
            raise ConfigError(f"{self.where}: {exc}") from None


def parse_config(data: Any, path: Path | None = None) -> Config:
    """Build a :class:`Config` from already-parsed YAML."""
    where = str(path) if path else "config"
    if data is None:
        return Config(path=path)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: the top level must be a mapping of router names or sections, got {type(data).__name__}")
    # Any reserved section name marks the extended format (no router is called "server" or "models"),
    # so a config holding only ``models:``/``server:`` is not mistaken for routers of those names.
    if any(key in SECTIONS for key in data):
        unknown = [key for key in data if key not in SECTIONS]
        if unknown:
            raise ConfigError(
                f"{where}: unknown top-level section '{unknown[0]}' (valid sections: {', '.join(SECTIONS)})"
            )
        routers = data.get("routers") or {}
        sections = {key: value for key, value in data.items() if key != "routers"}
    else:
        _reject_misspelt_sections(data, where)
        routers, sections = data, {}
    if not isinstance(routers, Mapping):
        raise ConfigError(f"{where}: 'routers' must map router names to their options")
    checked: dict[str, dict[str, Any]] = {}
    for name, section in routers.items():
        if section is None:
            section = {}
        if not isinstance(section, Mapping):
            raise ConfigError(
                f"{where}: router '{name}' must be a mapping of options, got {type(section).__name__} ({section!r})"
            )
        checked[str(name)] = dict(section)
    return Config(routers=checked, sections=dict(sections), path=path)


def _reject_misspelt_sections(data: Mapping[str, Any], where: str) -> None:
    """In RouteLLM's shape every key is a router name; one that reads like a misspelt section
    (``modles:``, ``router:``) would otherwise load silently as a router nobody asked for."""
    import difflib

    for key in data:
        close = difflib.get_close_matches(str(key).lower(), SECTIONS, n=1, cutoff=0.7)
        if close:
            raise ConfigError(
                f"{where}: unknown top-level section '{key}' (did you mean '{close[0]}'? valid sections: "
                f"{', '.join(SECTIONS)})"
            )


def load_config(path: str | Path | None) -> Config:
    """Read a YAML config file; ``None`` gives an empty config (every router with its defaults)."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config path is a directory, expected a YAML file: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        position = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: invalid YAML{position}: {problem}") from None
    return parse_config(data, path)
