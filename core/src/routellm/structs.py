"""Validating plain config mappings into msgspec structs, with errors that name the key."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from routellm.errors import ConfigError

T = TypeVar("T")


class EmptyConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The config of a component that takes no options."""


def convert_section(section: Mapping[str, Any] | None, struct: type[T], *, where: str) -> T:
    """Validate ``section`` into ``struct``; a bad key or type raises :class:`ConfigError` naming it.

    ``where`` names the section for the message, e.g. ``"router 'mf'"`` or ``"config.yaml: mf"``.
    """
    if section is None:
        section = {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: expected a mapping of options, got {type(section).__name__}")
    try:
        return msgspec.convert(dict(section), struct, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {_describe(exc, struct)}") from None


def _describe(exc: msgspec.ValidationError, struct: type) -> str:
    message = str(exc)
    text, _, path = message.partition(" - at `")
    path = path.rstrip("`")
    key = path[2:] if path.startswith("$.") else path.lstrip("$")
    fields = getattr(struct, "__struct_fields__", ())
    if text.startswith("Object contains unknown field"):
        unknown = text.split("`")[1] if "`" in text else "?"
        if key:
            unknown = f"{key}.{unknown}"
        valid = ", ".join(fields) if fields else "none"
        return f"unknown option '{unknown}' (valid options: {valid})"
    if text.startswith("Object missing required field"):
        missing = text.split("`")[1] if "`" in text else "?"
        return f"missing required option '{missing}'"
    return f"option '{key}': {text}" if key else text


def config_from_generic(cls: type) -> None:
    """Set ``cls.Config`` from the type argument of ``Router[XConfig]`` (or Benchmark/Embedder) when the
    class does not set ``Config`` itself, so ``class MyRouter(Router[MyConfig])`` is enough."""
    if "Config" in cls.__dict__:
        return
    for base in cls.__dict__.get("__orig_bases__", ()):
        for arg in typing.get_args(base):
            if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
                cls.Config = arg  # type: ignore[attr-defined]
                return
