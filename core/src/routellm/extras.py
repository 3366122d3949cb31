"""Optional dependencies: one line naming what to install when one is missing, instead of a traceback."""

from __future__ import annotations

import importlib.util

import typer

from routellm.errors import RoutellmError


class MissingDependencyError(RoutellmError, ImportError):
    """A command or component needs a package that is not installed; the message says what to install."""


def importable(module: str) -> bool:
    """Whether the top-level ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(*modules: str, install: str, purpose: str) -> None:
    """Raise :class:`MissingDependencyError` unless every one of ``modules`` is importable.

    ``install`` is what to pass to pip, e.g. ``routellm-core[serve]``; ``purpose`` starts the message,
    e.g. ``"routellm serve"``.
    """
    missing = [module for module in modules if not importable(module)]
    if missing:
        raise MissingDependencyError(f"{purpose} needs {', '.join(missing)}: pip install '{install}'")


def missing(*modules: str) -> list[str]:
    """The ones of ``modules`` that cannot be imported."""
    return [module for module in modules if not importable(module)]


def register_unavailable(group: typer.Typer, name: str, *, install: str, modules: list[str]) -> None:
    """Register command ``name`` on ``group`` that only says what to install (its dependencies are missing).

    For plugins whose command needs an extra, e.g. ``routellm train mf`` without ``routellm-router-mf[train]``::

        absent = missing("routellm_train", "polars")
        if absent:
            register_unavailable(train, "mf", install="routellm-router-mf[train]", modules=absent)
    """

    def unavailable(ctx: typer.Context) -> None:
        raise MissingDependencyError(f"{ctx.command_path} needs {', '.join(modules)}: pip install '{install}'")

    unavailable.__doc__ = f"(not installed: pip install '{install}')"
    group.command(name, context_settings=ANY_ARGS, add_help_option=False)(unavailable)


#: Click settings for a command that accepts (and ignores) any arguments.
ANY_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}
