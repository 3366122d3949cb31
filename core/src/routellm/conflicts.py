"""Distributions that clash with routellm-core: LMSYS RouteLLM ships the same import package, ``routellm``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

#: LMSYS RouteLLM's distribution name on PyPI (0.0.1 to 0.2.0).
LMSYS_DISTRIBUTION = "routellm"


def lmsys_routellm_version() -> str | None:
    """The version of LMSYS's ``routellm`` distribution if it is installed, else None."""
    try:
        return version(LMSYS_DISTRIBUTION)
    except PackageNotFoundError:
        return None


def conflict_warning() -> str | None:
    """One line for the user when LMSYS RouteLLM is installed beside routellm-core, else None."""
    found = lmsys_routellm_version()
    if found is None:
        return None
    return (
        f"warning: LMSYS RouteLLM (pip distribution 'routellm' {found}) is installed too; it ships the same import "
        "package 'routellm' and overwrites routellm-core's files: run `pip uninstall routellm` and "
        "`pip install --force-reinstall routellm-core`"
    )
